#!/bin/sh
# virtio-console (issue 5): a line on the second console port, which the host
# finds in the file behind it after the run.
. /e2e/lib.sh

if wait_for 10 test -c /dev/hvc0; then
	echo "second console $SPLITVM_nonce" >/dev/hvc0 && ok console-write
else
	fail console-write "no /dev/hvc0"
fi

done_test console
