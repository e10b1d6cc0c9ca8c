# Warnings are errors for our own code; dependencies come in as SYSTEM headers.
set(RAMPART_WARNINGS -Wall -Wextra -Wpedantic -Werror -Wshadow -Wnon-virtual-dtor
    -Wimplicit-fallthrough -Wno-missing-field-initializers)
