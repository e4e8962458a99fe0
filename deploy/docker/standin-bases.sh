#!/usr/bin/env bash
# Builds local stand-ins for the two base images of deploy/docker/Dockerfile,
# for machines that cannot reach Docker Hub or gcr.io (the project's own
# build machine among them):
#   docker.io/library/rust:1.89-slim-bookworm  Debian bookworm (debootstrap from
#       a Debian mirror), gcc, the host's Rust toolchain (stable, from rustup),
#       and the host's certificate authorities (a TLS-intercepting proxy);
#   gcr.io/distroless/cc-debian12:latest       glibc, libgcc and libm from that
#       Debian, passwd/group with root, nobody and nonroot; no shell.
# With them, `podman build -f deploy/docker/Dockerfile .` works offline
# except for crates.io. Needs root, podman, runc and debootstrap. The
# images are tagged with the official names so that the Dockerfile is used
# unchanged: do not push them anywhere.
set -euo pipefail
work=${TMPDIR:-/tmp}/tw-standin
podman_=(podman --runtime runc --cgroup-manager cgroupfs)
rm -rf "$work" && mkdir -p "$work"
debootstrap --variant=minbase bookworm "$work/rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null
tar -C "$work/rootfs" -c . | "${podman_[@]}" import - localhost/tw-standin-bookworm:latest >/dev/null

mkdir -p "$work/rust"
toolchain=$(rustup toolchain list | awk '/default/ {print $1}')
cp -a "$(rustup toolchain list -v | awk -v t="$toolchain" '$1==t {print $NF}')" "$work/rust/toolchain"
rm -rf "$work/rust/toolchain/share/doc" "$work/rust/toolchain/lib/rustlib/src"
cp /etc/ssl/certs/ca-certificates.crt "$work/rust/"
cat > "$work/rust/Containerfile" <<'EOT'
FROM localhost/tw-standin-bookworm:latest
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev ca-certificates >/dev/null && rm -rf /var/lib/apt/lists/*
COPY toolchain /usr/local/rust
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/sbin:/usr/bin:/sbin:/bin CARGO_HOME=/usr/local/cargo
EOT
"${podman_[@]}" build -q --network host -t docker.io/library/rust:1.89-slim-bookworm "$work/rust"

d="$work/distroless/root"
mkdir -p "$d/lib/x86_64-linux-gnu" "$d/lib64" "$d/etc" "$d/tmp"
for l in libc.so.6 libgcc_s.so.1 libm.so.6; do cp -L "$work/rootfs/lib/x86_64-linux-gnu/$l" "$d/lib/x86_64-linux-gnu/"; done
cp -L "$work/rootfs/lib64/ld-linux-x86-64.so.2" "$d/lib64/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$d/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\nnonroot:x:65532:\n' > "$d/etc/group"
printf 'FROM scratch\nCOPY root/ /\n' > "$work/distroless/Containerfile"
"${podman_[@]}" build -q -t gcr.io/distroless/cc-debian12:latest "$work/distroless"
echo "stand-in base images ready"
