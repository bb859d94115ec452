/*
 * The pull container's command: exits 0 at once. Pre-pulling only needs the kubelet to pull the
 * target image and start a container from it, so this runs in place of the image's own
 * entrypoint, which may need a shell, arguments or a network that a pull pod lacks.
 *
 * Linked statically (no libc or loader in the target image is used), it runs in any Linux image
 * of the same CPU architecture, including distroless and scratch ones:
 *
 *   gcc -static -Os -s -o kube-image-cache-noop src/prepull/noop/noop.c
 */
int main(void) { return 0; }
