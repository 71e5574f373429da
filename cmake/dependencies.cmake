# Third-party dependencies, found once for the whole tree.
#
# Native builds use the system packages (README lists them; scripts/ install them).
# The wasm build must not see /usr/include (glibc headers would leak in), so the header-only
# libraries it needs (msgpack-c) are exposed through a folder of symlinks in the build tree.

if(EMSCRIPTEN)
  set(PARLEY_WASM_INCLUDE ${CMAKE_BINARY_DIR}/wasm-include)
  file(MAKE_DIRECTORY ${PARLEY_WASM_INCLUDE})
  foreach(entry msgpack msgpack.hpp)
    if(NOT EXISTS ${PARLEY_WASM_INCLUDE}/${entry})
      file(CREATE_LINK /usr/include/${entry} ${PARLEY_WASM_INCLUDE}/${entry} SYMBOLIC)
    endif()
  endforeach()
  add_library(parley_msgpack INTERFACE)
  target_include_directories(parley_msgpack SYSTEM INTERFACE ${PARLEY_WASM_INCLUDE})
  target_compile_definitions(parley_msgpack INTERFACE MSGPACK_NO_BOOST MSGPACK_DEFAULT_API_VERSION=3)
  # msgpack-c reports bad input by throwing; the engine catches at the decode boundary.
  add_compile_options(-fexceptions)
  add_link_options(-fexceptions)
  # GoogleTest from Debian's sources, compiled for wasm.
  if(PARLEY_BUILD_TESTS)
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
    # It defines GTest::gtest and GTest::gtest_main itself, as find_package does natively.
    add_subdirectory(/usr/src/googletest ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
  endif()
else()
  find_package(msgpack CONFIG REQUIRED)
  add_library(parley_msgpack INTERFACE)
  target_link_libraries(parley_msgpack INTERFACE msgpackc-cxx)
  target_compile_definitions(parley_msgpack INTERFACE MSGPACK_NO_BOOST MSGPACK_DEFAULT_API_VERSION=3)
  find_package(Threads REQUIRED)
  find_package(Boost 1.74 REQUIRED COMPONENTS system)
  find_package(OpenSSL 3 REQUIRED)
  find_package(SQLite3 REQUIRED)
  find_package(cereal CONFIG REQUIRED)
  find_package(PkgConfig REQUIRED)
  # The server's batched sends (send_ring); Debian's liburing-dev ships no CMake package.
  pkg_check_modules(liburing REQUIRED IMPORTED_TARGET liburing)
  if(PARLEY_BUILD_TESTS)
    find_package(GTest CONFIG REQUIRED)
  endif()
endif()
