// Open MPI's handles (MPI_COMM_WORLD, MPI_BYTE, MPI_IN_PLACE, ...) are macros over addresses of
// library globals, which Swift cannot import; these getters hand them over. Only LSTMMPI sees them.
#ifndef LSTM_CMPI_SHIM_H
#define LSTM_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm cmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype cmpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype cmpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype cmpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype cmpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype cmpi_int(void) { return MPI_INT; }
static inline MPI_Op cmpi_sum(void) { return MPI_SUM; }
static inline void *cmpi_in_place(void) { return MPI_IN_PLACE; }
static inline int cmpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int cmpi_success(void) { return MPI_SUCCESS; }
static inline MPI_Errhandler cmpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Status *cmpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Request cmpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *cmpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
static inline int cmpi_undefined(void) { return MPI_UNDEFINED; }

#endif
