package dnstap

import "strconv"

// SocketFamily is the address family of a Message's addresses
// (Message.socket_family).
type SocketFamily int32

// The socket families of dnstap.proto.
const (
	FamilyINET  SocketFamily = 1 // IPv4; addresses are 4 bytes
	FamilyINET6 SocketFamily = 2 // IPv6; addresses are 16 bytes
)

// String returns the proto name of f, such as "INET6".
func (f SocketFamily) String() string {
	switch f {
	case FamilyINET:
		return "INET"
	case FamilyINET6:
		return "INET6"
	}
	return "SocketFamily(" + strconv.Itoa(int(f)) + ")"
}

// SocketProtocol is the transport that carried a Message's DNS message
// (Message.socket_protocol).
type SocketProtocol int32

// The socket protocols of dnstap.proto.
const (
	ProtocolUDP         SocketProtocol = 1
	ProtocolTCP         SocketProtocol = 2
	ProtocolDOT         SocketProtocol = 3 // DNS over TLS, RFC 7858
	ProtocolDOH         SocketProtocol = 4 // DNS over HTTPS, RFC 8484
	ProtocolDNSCryptUDP SocketProtocol = 5
	ProtocolDNSCryptTCP SocketProtocol = 6
	ProtocolDOQ         SocketProtocol = 7 // DNS over QUIC, RFC 9250
)

var socketProtocolNames = [...]string{
	ProtocolUDP:         "UDP",
	ProtocolTCP:         "TCP",
	ProtocolDOT:         "DOT",
	ProtocolDOH:         "DOH",
	ProtocolDNSCryptUDP: "DNSCryptUDP",
	ProtocolDNSCryptTCP: "DNSCryptTCP",
	ProtocolDOQ:         "DOQ",
}

// String returns the proto name of p, such as "UDP" or "DNSCryptTCP".
func (p SocketProtocol) String() string {
	if p >= ProtocolUDP && p <= ProtocolDOQ {
		return socketProtocolNames[p]
	}
	return "SocketProtocol(" + strconv.Itoa(int(p)) + ")"
}
