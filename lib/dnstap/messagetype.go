package dnstap

import (
	"fmt"
	"strconv"
	"strings"
)

// MessageType is the type of a dnstap Message (Message.type): where in
// the resolution chain the DNS message was seen and in which direction.
type MessageType int32

// The message types of dnstap.proto.
const (
	AuthQuery         MessageType = 1
	AuthResponse      MessageType = 2
	ResolverQuery     MessageType = 3
	ResolverResponse  MessageType = 4
	ClientQuery       MessageType = 5
	ClientResponse    MessageType = 6
	ForwarderQuery    MessageType = 7
	ForwarderResponse MessageType = 8
	StubQuery         MessageType = 9
	StubResponse      MessageType = 10
	ToolQuery         MessageType = 11
	ToolResponse      MessageType = 12
	UpdateQuery       MessageType = 13
	UpdateResponse    MessageType = 14
)

// messageTypeNames holds the proto name and the two-letter short form (as
// printed by the dnstap tool's quiet text format) of each MessageType.
var messageTypeNames = [...]struct{ long, short string }{
	AuthQuery:         {"AUTH_QUERY", "AQ"},
	AuthResponse:      {"AUTH_RESPONSE", "AR"},
	ResolverQuery:     {"RESOLVER_QUERY", "RQ"},
	ResolverResponse:  {"RESOLVER_RESPONSE", "RR"},
	ClientQuery:       {"CLIENT_QUERY", "CQ"},
	ClientResponse:    {"CLIENT_RESPONSE", "CR"},
	ForwarderQuery:    {"FORWARDER_QUERY", "FQ"},
	ForwarderResponse: {"FORWARDER_RESPONSE", "FR"},
	StubQuery:         {"STUB_QUERY", "SQ"},
	StubResponse:      {"STUB_RESPONSE", "SR"},
	ToolQuery:         {"TOOL_QUERY", "TQ"},
	ToolResponse:      {"TOOL_RESPONSE", "TR"},
	UpdateQuery:       {"UPDATE_QUERY", "UQ"},
	UpdateResponse:    {"UPDATE_RESPONSE", "UR"},
}

// known reports whether t is one of the types defined by dnstap.proto.
func (t MessageType) known() bool {
	return t >= AuthQuery && t <= UpdateResponse
}

// String returns the proto name of t, such as "CLIENT_QUERY", or
// "MessageType(99)" for a value the schema does not define.
func (t MessageType) String() string {
	if t.known() {
		return messageTypeNames[t].long
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

// Short returns the two-letter form of t, such as "CQ", or the decimal
// value for a type the schema does not define.
func (t MessageType) Short() string {
	if t.known() {
		return messageTypeNames[t].short
	}
	return strconv.Itoa(int(t))
}

// IsQuery reports whether t is one of the *_QUERY types.
func (t MessageType) IsQuery() bool {
	// The schema numbers each query type odd and its response next.
	return t.known() && t%2 == 1
}

// IsResponse reports whether t is one of the *_RESPONSE types.
func (t MessageType) IsResponse() bool {
	return t.known() && t%2 == 0
}

// ParseMessageType returns the MessageType named by s, which is a proto
// name ("CLIENT_QUERY") or a short form ("CQ"), in any case.
func ParseMessageType(s string) (MessageType, error) {
	for t := AuthQuery; t <= UpdateResponse; t++ {
		n := messageTypeNames[t]
		if strings.EqualFold(s, n.long) || strings.EqualFold(s, n.short) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("dnstap: unknown message type %q", s)
}
