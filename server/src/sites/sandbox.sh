# The build sandbox (see build.ts), run as `sh -c` by `unshare --user --map-root-user --mount --pid --fork [--net]`:
# a tmpfs root with read-only /usr, a few /etc files, /dev/{null,zero,random,urandom}, its own /proc and the
# build's folder at /work; the old root is unmounted; the command runs with no capabilities and no_new_privs.
set -eu
R="$LOAM_BUILD_WORKDIR/.root"
mkdir -p "$R"
mount -t tmpfs -o size=512m,mode=755 tmpfs "$R"
mkdir -p "$R/usr"
mount --rbind /usr "$R/usr"
mount -o remount,bind,ro "$R/usr"
for l in bin sbin lib lib64 lib32 libx32; do
  if [ -L "/$l" ]; then ln -s "$(readlink "/$l")" "$R/$l"; elif [ -d "/$l" ]; then mkdir -p "$R/$l"; mount --rbind "/$l" "$R/$l"; mount -o remount,bind,ro "$R/$l"; fi
done
mkdir -p "$R/etc" "$R/work" "$R/tmp" "$R/dev" "$R/proc" "$R/.old"
for f in passwd group hosts resolv.conf nsswitch.conf; do
  if [ -f "/etc/$f" ]; then touch "$R/etc/$f"; mount --bind "/etc/$f" "$R/etc/$f"; fi
done
if [ -d /etc/ssl ]; then mkdir -p "$R/etc/ssl"; mount --rbind /etc/ssl "$R/etc/ssl"; mount -o remount,bind,ro "$R/etc/ssl"; fi
for n in null zero random urandom; do touch "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done
mount --bind "$LOAM_BUILD_WORKDIR" "$R/work"
mount -t proc proc "$R/proc"
cd "$R"
/usr/sbin/pivot_root . .old
umount -l /.old
rmdir /.old
cd /work
# The command travels in a variable of this shell only: the build's environment is the site's and PATH/HOME.
cmd="$LOAM_BUILD_COMMAND"
limits="$LOAM_BUILD_RLIMITS"
unset LOAM_BUILD_WORKDIR LOAM_BUILD_COMMAND LOAM_BUILD_RLIMITS
# The limits (soft and hard: nothing in the sandbox can raise them again), then no privileges, then the command.
# shellcheck disable=SC2086
exec /usr/bin/prlimit $limits /usr/bin/setpriv --no-new-privs --inh-caps=-all --ambient-caps=-all --bounding-set=-all /bin/sh -c "$cmd"
