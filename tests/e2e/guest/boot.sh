#!/bin/sh
# The boot benchmark's test: nothing after the init marker but the end.
. /e2e/lib.sh
done_test boot
