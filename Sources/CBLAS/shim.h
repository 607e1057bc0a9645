// CBLAS from OpenBLAS (apt: libopenblas-dev; pkg-config: openblas).
#pragma once
#include <cblas.h>
