package server

// RunLoopbackReader lets the external test package's TestMain run the reader process of
// BenchmarkWriteCPUPerDelivery.
var RunLoopbackReader = runLoopbackReader
