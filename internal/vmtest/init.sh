#!/bin/busybox sh
# Stage 1 of the test guest (PID 1 in the initramfs): load the 9p and
# overlay modules, build a writable root from the host's read-only root and
# a tmpfs, then switch_root into it and run the command the host asked for.
# switch_root, not chroot: the kernel runs /sbin/modprobe from init's root to
# load crypto templates such as rfc4106(gcm(aes)) (vm-rig.md).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do
	insmod /mods/$m.ko || echo "vmtest-init: insmod $m failed" >/dev/ttyS1
done
mkdir -p /lower /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=524288 hostroot /lower || echo "vmtest-init: mount hostroot failed" >/dev/ttyS1
mount -t tmpfs -o mode=0755 rw /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || echo "vmtest-init: mount overlay failed" >/dev/ttyS1
# /tmp stays the overlay's: writes land in the guest's tmpfs upper layer,
# and a checkout under the host's /tmp (as CI may use) stays visible.
mount -t tmpfs -o mode=0755 run /newroot/run
mkdir -p /newroot/run/vmtest
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 vmtest /newroot/run/vmtest || echo "vmtest-init: mount vmtest share failed" >/dev/ttyS1
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs shm /newroot/dev/shm
ln -sf /proc/self/fd /newroot/dev/fd
ln -sf /proc/self/fd/0 /newroot/dev/stdin
ln -sf /proc/self/fd/1 /newroot/dev/stdout
ln -sf /proc/self/fd/2 /newroot/dev/stderr
exec switch_root /newroot /bin/bash /run/vmtest/stage2.sh
