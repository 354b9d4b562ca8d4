// Package dnstap decodes and encodes dnstap frames without allocating.
//
// A dnstap frame is one protobuf message of the dnstap.proto schema (a
// Dnstap wrapping one Message), as carried in each data frame of a Frame
// Streams stream with content type "protobuf:dnstap.Dnstap".
//
// The generated protobuf code copies every byte field and allocates a
// struct per message, which costs more than the rest of a tapir filter at
// the rates of a large resolver. [Frame.Unmarshal] instead fills a reusable
// [Frame] whose byte fields alias the input, and [Frame.AppendMarshal]
// writes it back to a caller-supplied buffer. Fields this package does not
// interpret (Message.policy, Message.http_protocol, fields of future
// versions of the schema) are kept as raw encoded bytes and written back
// unchanged, so a filter that rewrites one field passes everything else
// through.
//
// The decoder follows the protobuf rules where they matter for
// interoperability: a field whose wire type does not match the schema is
// kept as an unknown field, a scalar field that occurs twice keeps the last
// value, and a repeated message field is merged. It does not enforce the
// schema's required fields; see [Frame.Unmarshal].
package dnstap
