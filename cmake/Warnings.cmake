# Warnings are errors for our own code; dependencies come in as SYSTEM headers.
set(RAMPART_WARNINGS -Wall -Wextra -Wpedantic -Werror -Wshadow -Wnon-virtual-dtor
    -Wimplicit-fallthrough -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports false positives inside libstdc++'s std::string at -O3 (GCC bug 105329).
  list(APPEND RAMPART_WARNINGS -Wno-restrict)
endif()
