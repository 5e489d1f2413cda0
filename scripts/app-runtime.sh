# Sourced (POSIX sh) by whatever starts an app for real: scripts/stack.sh, the Dockerfile's CMD and
# bench/pipeline, with APP set to the app's name (`.` passes no arguments in POSIX sh). Sets the
# Node.js runtime settings of that app, which must be in place before the process starts (the
# app's own validated configuration is read too late for them).
#
# metering: without limits V8 sizes its heap for the machine and glibc keeps freed Kafka fetch
# buffers, so RSS is several times the live heap; the limits below keep it near it (figures:
# docs/BENCHMARKS.md, pipeline, Memory). METERING_NODE_OPTIONS overrides the V8 flags (empty: none).
case "${APP:-}" in
  metering)
    NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }${METERING_NODE_OPTIONS---max-semi-space-size=16 --max-old-space-size=192}"
    # Allocations from 128 KiB up always mmapped, so a freed fetch buffer goes back to the system.
    MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}"
    export NODE_OPTIONS MALLOC_MMAP_THRESHOLD_
    ;;
esac
