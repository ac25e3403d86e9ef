package listener

// Sizing connection caps from the limit on open files (docs/api.md,
// "Limits"): every connection holds one descriptor, and the process needs
// others that a flood of connections must not take: its NATS connections,
// JetStream's files in the embedded server, the operations listener, logs.
const (
	// reservedFiles is kept for everything but client connections, plus a
	// tenth of the limit (reservedShare) for what grows with it.
	reservedFiles = 128
	reservedShare = 10
	// minMaxConns is the smallest default cap, for limits too small to
	// leave any room.
	minMaxConns = 32
	// unknownLimitMaxConns is the default cap when the limit is unknown.
	unknownLimitMaxConns = 10_000
	// OpsMaxConns caps an operations listener (health, readiness,
	// metrics): probes and scrapers need few connections. It is part of
	// reservedFiles.
	OpsMaxConns = 64
)

// MaxConnsFor is the default cap on a server's connections for a process
// allowed fileLimit open files: fileLimit − (128 + fileLimit/10), at least
// 32; 10,000 when the limit is unknown (0). With 1,024 files that is 794,
// with 20,000 it is 17,872.
func MaxConnsFor(fileLimit uint64) int {
	if fileLimit == 0 {
		return unknownLimitMaxConns
	}
	reserve := reservedFiles + fileLimit/reservedShare
	if fileLimit <= reserve+minMaxConns {
		return minMaxConns
	}
	n := fileLimit - reserve
	if n > 1<<30 {
		n = 1 << 30
	}
	return int(n)
}
