#!/usr/bin/env python3
"""The layering contract of the source tree (README "Layout").

Each folder below is a layer with a rank. A file may include headers of its own folder and
of folders with a lower rank, never of a folder with the same or a higher rank: the host's
layers are built bottom-up, so a lower layer never knows a higher one. Siblings of one rank
(the three triggers, say) are kept apart the same way. Every source folder must be listed,
so a new folder takes a place in the order before it holds code.

Usage: check_layers.py SOURCE_ROOT   prints each wrong-way include and exits 1 if any
       check_layers.py --self-test     proves on a scratch tree that a wrong-way include fails
"""
import pathlib
import re
import sys
import tempfile

# folder -> rank; lower ranks are included by higher ones, never the other way.
LAYERS = {
    "sdk/include/gust": 0,   # the C ABI and the C++ layer a function author includes
    "runtime/base": 1,       # results, clock, ids, durations, names, cron, text encodings
    "runtime/protocol": 2,   # invocations, outcomes, frames, trace context, fork protocol
    "runtime/graphql": 2,    # GraphQL: lexer, parser, schema from SDL, validation, execution over JSON
    "functions": 3,          # the app model: manifest, artifact checks, app store
    "runtime/store": 3,      # SQLite connection, schema, writer; queue and invocation stores
    "functions/worker": 4,   # what runs beside user code: worker main, fork server, sandbox, module loader
    "runtime/observe": 4,    # logging, metrics, telemetry, OTLP export, invocation records
    "runtime/exec": 5,       # dispatcher, pending queue, pools, worker processes, thread executor
    "triggers": 6,           # the trigger interface every trigger implements
    "triggers/http": 7,      # HTTP server, parser, router, HTTP trigger, async invocations
    "triggers/queue": 7,     # queue trigger
    "triggers/timer": 7,     # timer scheduler and trigger
    "runtime/apps": 8,       # the deployed apps: versions wired into dispatcher and triggers
    "triggers/webhooks": 8,  # outbound webhooks: topic events POSTed, signed, through the queue trigger
    "runtime/admin": 9,      # the admin API
    "runtime/host": 10,      # the composition root and its settings
    "runtime/cli": 11,       # the CLI: commands over the library
}
SOURCE_SUFFIXES = {".h", ".cc", ".hpp", ".cpp", ".c"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def folder_of(path: str) -> str:
    return str(pathlib.PurePosixPath(path).parent)


def resolve(include: str) -> str:
    # The SDK is included as <gust/...> or "gust/..." through its include directory.
    return "sdk/include/" + include if include.startswith("gust/") else include


def violations(root: pathlib.Path):
    scanned = [p for top in ("runtime", "functions", "triggers", "sdk")
               for p in sorted((root / top).rglob("*")) if p.suffix in SOURCE_SUFFIXES]
    for path in scanned:
        rel = path.relative_to(root).as_posix()
        own = folder_of(rel)
        if own not in LAYERS:
            yield f"{rel}: folder {own} has no place in the layer order (tests/layers/check_layers.py)"
            continue
        for target in INCLUDE.findall(path.read_text(errors="replace")):
            target = resolve(target)
            theirs = folder_of(target)
            if theirs == own:
                continue
            if theirs not in LAYERS:
                yield f"{rel}: includes {target}, outside every layer"
            elif LAYERS[theirs] >= LAYERS[own]:
                yield (f"{rel}: includes {target}: {own} (rank {LAYERS[own]}) may include only "
                       f"lower layers, and {theirs} is rank {LAYERS[theirs]}")


def self_test() -> int:
    """The check must fail on each kind of wrong-way include and pass on a clean tree."""
    cases = {
        "clean": ("runtime/exec/pool.cc", '#include "runtime/base/clock.h"\n', 0),
        "upward": ("runtime/base/clock.h", '#include "runtime/host/host.h"\n', 1),
        "sibling": ("triggers/http/a.cc", '#include "triggers/queue/queue_trigger.h"\n', 1),
        "same rank": ("runtime/store/a.cc", '#include "functions/manifest.h"\n', 1),
        "unlisted folder": ("runtime/misc/a.cc", '#include "runtime/base/clock.h"\n', 1),
        "outside every layer": ("runtime/host/a.cc", '#include "tests/support/temp_dir.h"\n', 1),
        "sdk": ("functions/worker/a.cc", '#include "gust/abi.h"\n', 0),
    }
    failures = 0
    for name, (path, text, expected) in cases.items():
        with tempfile.TemporaryDirectory() as tmp:
            file = pathlib.Path(tmp) / path
            file.parent.mkdir(parents=True)
            file.write_text(text)
            got = len(list(violations(pathlib.Path(tmp))))
            if got != expected:
                print(f"self-test {name}: expected {expected} violation(s), found {got}")
                failures += 1
    print(f"layers self-test: {len(cases) - failures} passed, {failures} failed")
    return 1 if failures else 0


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    found = list(violations(root))
    for line in found:
        print(line)
    print(f"layers: {len(found)} wrong-way include(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
