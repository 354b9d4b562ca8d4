// Package fstrm reads and writes Frame Streams, the framing of dnstap files
// and sockets, and of every pipe between tapir tools.
//
// A stream is a sequence of frames. A data frame is a 32-bit big-endian
// length followed by that many bytes of payload. A control frame starts with
// a zero length (the escape), then its own 32-bit length, then a 32-bit
// control type and optional fields. A unidirectional stream (files, pipes) is
// START, data frames, STOP. A bidirectional stream (resolver sockets) opens
// with READY from the sender and ACCEPT from the receiver, and closes with
// STOP from the sender and FINISH from the receiver.
//
// Reader and Writer do not allocate per frame: Reader returns frames that
// alias its buffer, and Writer copies frames into a buffered writer.
package fstrm
