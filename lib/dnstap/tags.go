package dnstap

import "google.golang.org/protobuf/encoding/protowire"

// Encoded tags (field number << 3 | wire type) of the fields the package
// interprets; each fits in the single byte the encoder writes. The decoder
// matches a field by its whole tag, so a known field number with an
// unexpected wire type falls through to the unknown fields, as protobuf
// requires.
const (
	bytesType   = uint64(protowire.BytesType)
	varintType  = uint64(protowire.VarintType)
	fixed32Type = uint64(protowire.Fixed32Type)

	// Dnstap
	tagIdentity  = 1<<3 | bytesType
	tagVersion   = 2<<3 | bytesType
	tagExtra     = 3<<3 | bytesType
	tagMessage   = 14<<3 | bytesType
	tagFrameType = 15<<3 | varintType

	// Message
	tagType             = 1<<3 | varintType
	tagSocketFamily     = 2<<3 | varintType
	tagSocketProtocol   = 3<<3 | varintType
	tagQueryAddress     = 4<<3 | bytesType
	tagResponseAddress  = 5<<3 | bytesType
	tagQueryPort        = 6<<3 | varintType
	tagResponsePort     = 7<<3 | varintType
	tagQueryTimeSec     = 8<<3 | varintType
	tagQueryTimeNsec    = 9<<3 | fixed32Type
	tagQueryMessage     = 10<<3 | bytesType
	tagQueryZone        = 11<<3 | bytesType
	tagResponseTimeSec  = 12<<3 | varintType
	tagResponseTimeNsec = 13<<3 | fixed32Type
	tagResponseMessage  = 14<<3 | bytesType
)
