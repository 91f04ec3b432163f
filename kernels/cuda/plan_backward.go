package cuda

// maxColChunks bounds the row chunks of a column sum: enough blocks to keep
// the GPU busy for the tall, narrow gradients of training (4,096 rows × 64
// columns), few enough partial sums for the finishing pass.
const maxColChunks = 64

// colChunks splits rows for a two-pass column sum: chunks of chunkRows rows
// (at least 32 each where there are that many), at most maxColChunks of them,
// covering every row.
func colChunks(rows int) (chunkRows, chunks int) {
	if rows <= 0 {
		return 1, 0
	}
	chunks = max(1, min(maxColChunks, rows/32))
	chunkRows = ceilDiv(rows, chunks)
	return chunkRows, ceilDiv(rows, chunkRows)
}
