#pragma once
// What the CLI's unit tests share: a temp dir and whole-file I/O.

#include "tests/support/files.h"
#include "tests/support/temp_dir.h"
