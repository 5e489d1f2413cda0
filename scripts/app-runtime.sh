# Sourced (POSIX sh) by whatever starts an app for real: scripts/stack.sh, the Dockerfile's CMD and
# bench/pipeline, with APP set to the app's name (`.` passes no arguments in POSIX sh). Sets the
# Node.js runtime settings of that app, which must be in place before the process starts (the
# app's own validated configuration is read too late for them).
#
# metering: its live heap stays between 50 and 90 MB (the batch in flight is bounded by
# CONSUMER_MAX_BYTES), but without limits V8 sizes itself for a 4 GB heap on a large machine: a
# 128 MB young generation, an old generation left to grow to 3-4x the live data between full
# collections, freed pages kept; and glibc serves the 8 MiB Kafka fetch buffers from its main heap
# once a freed one raised its mmap threshold, which fragments and is never returned. Under the
# pipeline benchmark that was 510-570 MB RSS; with the settings below 255-265 MB, at the price of
# more frequent collections (about 15 µs more CPU per event). METERING_NODE_OPTIONS overrides the
# V8 flags (empty: none).
case "${APP:-}" in
  metering)
    NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }${METERING_NODE_OPTIONS---max-semi-space-size=16 --max-old-space-size=192}"
    # Allocations from 128 KiB up always mmapped, so a freed fetch buffer goes back to the system.
    MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}"
    export NODE_OPTIONS MALLOC_MMAP_THRESHOLD_
    ;;
esac
