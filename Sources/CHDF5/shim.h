// HDF5 1.10 C API (apt: libhdf5-dev; pkg-config: hdf5, headers in /usr/include/hdf5/serial).
// Swift cannot import HDF5's macros and global type ids in Swift 6 mode, so these
// static inline getters return them; swift_name keeps the C spelling on the Swift side.
#pragma once
#include <hdf5.h>

#define CHDF5_GETTER(T, NAME, EXPR) \
    static inline T chdf5_##NAME(void) __attribute__((swift_name("getter:" #NAME "()"))); \
    static inline T chdf5_##NAME(void) { return (EXPR); }

CHDF5_GETTER(hid_t, H5T_NATIVE_FLOAT, H5T_NATIVE_FLOAT)
CHDF5_GETTER(hid_t, H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE)
CHDF5_GETTER(hid_t, H5T_NATIVE_INT32, H5T_NATIVE_INT32)
CHDF5_GETTER(hid_t, H5T_NATIVE_INT64, H5T_NATIVE_INT64)
CHDF5_GETTER(hid_t, H5T_NATIVE_UINT8, H5T_NATIVE_UINT8)
CHDF5_GETTER(hid_t, H5T_C_S1, H5T_C_S1)
CHDF5_GETTER(hid_t, H5P_DATASET_CREATE, H5P_DATASET_CREATE)
CHDF5_GETTER(hid_t, H5P_FILE_ACCESS, H5P_FILE_ACCESS)
CHDF5_GETTER(hid_t, H5P_LINK_CREATE, H5P_LINK_CREATE)
CHDF5_GETTER(hid_t, H5E_DEFAULT, H5E_DEFAULT)
CHDF5_GETTER(unsigned, H5F_ACC_TRUNC, H5F_ACC_TRUNC)
CHDF5_GETTER(unsigned, H5F_ACC_EXCL, H5F_ACC_EXCL)
CHDF5_GETTER(unsigned, H5F_ACC_RDONLY, H5F_ACC_RDONLY)
CHDF5_GETTER(unsigned, H5F_ACC_RDWR, H5F_ACC_RDWR)
CHDF5_GETTER(hsize_t, H5S_UNLIMITED, H5S_UNLIMITED)
CHDF5_GETTER(size_t, H5T_VARIABLE, H5T_VARIABLE)
