package hll

// SetSparseThreshold sets the SPARSE to FULL threshold for a test and
// returns a function that restores it.
func SetSparseThreshold(n int) (restore func()) {
	old := sparseThreshold
	sparseThreshold = n
	return func() { sparseThreshold = old }
}
