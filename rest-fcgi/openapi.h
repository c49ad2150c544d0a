/* openapi.h — the OpenAPI 3 description of madang-api (rest-fcgi/openapi.json), embedded at build
 * time and served at /api/openapi.json. */
#ifndef MADANG_API_OPENAPI_H
#define MADANG_API_OPENAPI_H

#include <stddef.h>

extern const char api_openapi_json[];     /* NUL-terminated */
extern const size_t api_openapi_json_len; /* without the NUL */

#endif
