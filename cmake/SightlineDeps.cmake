# Every dependency comes from a Debian 12 package; nothing is downloaded or vendored.
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(CURL REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(JWT REQUIRED IMPORTED_TARGET libjwt)

# SOCI ships neither a CMake config nor a pkg-config file.
find_path(SOCI_INCLUDE_DIR soci/soci.h REQUIRED)
find_library(SOCI_CORE_LIBRARY soci_core REQUIRED)
find_library(SOCI_SQLITE3_LIBRARY soci_sqlite3 REQUIRED)
find_library(SOCI_POSTGRESQL_LIBRARY soci_postgresql REQUIRED)
find_package(Boost REQUIRED)  # Debian's SOCI headers include Boost.Fusion
add_library(sightline_soci INTERFACE)
target_include_directories(sightline_soci SYSTEM INTERFACE
  ${SOCI_INCLUDE_DIR} ${PostgreSQL_INCLUDE_DIRS})
target_link_libraries(sightline_soci INTERFACE
  ${SOCI_CORE_LIBRARY} ${SOCI_SQLITE3_LIBRARY} ${SOCI_POSTGRESQL_LIBRARY}
  SQLite::SQLite3 PostgreSQL::PostgreSQL Boost::headers)
add_library(soci::soci ALIAS sightline_soci)

# System proto sources (read in place from their Debian packages, never copied).
set(SIGHTLINE_GOOGLEAPIS_DIR /usr/share/gocode/src/github.com/gogo/googleapis
    CACHE PATH "Folder holding google/rpc/*.proto (golang-github-gogo-googleapis-dev)")
set(SIGHTLINE_GRPC_PROTO_DIR /usr/share/grpc-proto
    CACHE PATH "Folder holding grpc/health/v1/health.proto (grpc-proto)")

# Formulas of derived KPIs (libmuparser-dev).
pkg_check_modules(MUPARSER REQUIRED IMPORTED_TARGET muparser)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)  # SCIM endpoint
