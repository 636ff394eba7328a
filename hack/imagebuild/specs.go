package main

// The images `make images` builds. The Dockerfile at the repository root builds the signaling and
// manager images with the same paths, user and entrypoints (TestDockerfileMatchesImages).

const (
	// nonRoot is distroless' "nonroot" user and group; every image runs as it.
	nonRoot        = 65532
	nonRootUser    = "65532:65532"
	sourceURL      = "https://github.com/switchboard-rtc/switchboard"
	projectLicense = "Apache-2.0"
	// defaultPath lets a pod's `command: [redis-server]` resolve without a shell.
	defaultPath = "PATH=/usr/local/bin:/usr/bin:/bin"
)

// imageSpec describes one image: a static binary (or a host binary plus its shared libraries)
// on top of the common base layer.
type imageSpec struct {
	// Name is the tarball's base name (bin/images/<Name>.tar).
	Name string
	// Repository is the image reference without the tag; the tag is the version.
	Repository string
	Title      string
	// Description is the org.opencontainers.image.description label.
	Description string
	// Licenses is the org.opencontainers.image.licenses label (SPDX expression).
	Licenses string
	// Binary is the file under -bin-dir (a Go program) or an absolute host path (HostBinary).
	Binary string
	// HostBinary marks Binary as a dynamically linked host executable: the shared libraries ldd
	// lists for it are copied into the image at the same paths.
	HostBinary bool
	// Path is where the binary lives in the image.
	Path       string
	Entrypoint []string
	WorkingDir string
	// Dirs are extra directories owned by the non-root user (e.g. Redis' working directory).
	Dirs         []string
	ExposedPorts []string
}

// imageSpecs returns the five images; redisServer is the host's redis-server executable.
func imageSpecs(redisServer string) []imageSpec {
	return []imageSpec{
		{
			Name: "signaling", Repository: "ghcr.io/switchboard-rtc/signaling", Title: "Switchboard signaling node",
			Description: "WebRTC signaling node: Socket.IO rooms, offer/answer relay, chat and SFU signaling.",
			Licenses:    projectLicense, Binary: "signaling", Path: "/usr/local/bin/signaling",
			Entrypoint: []string{"/usr/local/bin/signaling"}, WorkingDir: "/", ExposedPorts: []string{"8080/tcp"},
		},
		{
			Name: "manager", Repository: "ghcr.io/switchboard-rtc/manager", Title: "Switchboard operator",
			Description: "Kubernetes operator reconciling SignalingCluster resources, with the media-service health gate.",
			Licenses:    projectLicense, Binary: "manager", Path: "/usr/local/bin/manager",
			Entrypoint: []string{"/usr/local/bin/manager"}, WorkingDir: "/", ExposedPorts: []string{"8080/tcp", "8081/tcp"},
		},
		{
			Name: "pause", Repository: "switchboard.local/pause", Title: "Switchboard test pause",
			Description: "Test support: a pod sandbox (pause) image that sleeps until SIGTERM or SIGINT.",
			Licenses:    projectLicense, Binary: "pause", Path: "/pause",
			Entrypoint: []string{"/pause"}, WorkingDir: "/",
		},
		{
			Name: "mediastub", Repository: "switchboard.local/mediastub", Title: "Switchboard test media-service stub",
			Description: "Test support: answers the Media Service health endpoint (GET /health).",
			Licenses:    projectLicense, Binary: "mediastub", Path: "/usr/local/bin/mediastub",
			Entrypoint: []string{"/usr/local/bin/mediastub"}, WorkingDir: "/", ExposedPorts: []string{"8080/tcp"},
		},
		{
			Name: "redis", Repository: "switchboard.local/redis", Title: "Redis for Switchboard tests",
			Description: "Test support: the build host's Debian redis-server and the shared libraries it links.",
			Licenses:    "BSD-3-Clause", Binary: redisServer, HostBinary: true, Path: "/usr/bin/redis-server",
			Entrypoint: []string{"/usr/bin/redis-server"}, WorkingDir: "/data", Dirs: []string{"/data"},
			ExposedPorts: []string{"6379/tcp"},
		},
	}
}
