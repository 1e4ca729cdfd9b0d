#ifndef SOAPD_FAST_CRC32_H
#define SOAPD_FAST_CRC32_H

#include <stddef.h>
#include <stdint.h>

/// The CRC-32 of zip and gzip (zlib's crc32: same start value, same result), by carry-less
/// multiplication folding where the CPU has PCLMULQDQ, by zlib otherwise.
uint32_t soapd_crc32(uint32_t crc, const void *data, size_t length);

/// Whether soapd_crc32 folds with PCLMULQDQ on this CPU (for tests and logs).
int soapd_crc32_is_folding(void);

#endif
