// Package lwm2m is the data layer of an OMA LightweightM2M 1.1 device:
// what a simulated meter or tracker holds and how it writes it on the
// wire, with no network code. An LwM2M device client (a later step)
// drives it over a coap.Session.
//
// # What it holds
//
//   - Paths: Path names /object/instance/resource/resource-instance;
//     ParsePath and ParseSegments read them, String writes them.
//   - Values and formats: Value carries the LwM2M data types (Integer,
//     Unsigned Integer, Float, Boolean, String, Opaque, Time, Objlnk,
//     Corelnk). Encode and Decode turn Records into payloads and back in
//     text/plain (0), opaque (42), TLV (11542), SenML JSON (110) and
//     SenML CBOR (112), for one resource, a multi-instance resource, an
//     object instance or a whole object. TLV carries no types and SenML
//     one number type, so decoding takes a TypeFunc (Model.Type).
//   - Link format: Link, ParseLinks and AppendLinks (RFC 6690) for
//     Register payloads and Discover answers.
//   - The object model: Model holds one device's objects (Security 0,
//     Server 1, Device 3, Connectivity Monitoring 4, Firmware Update 5,
//     Location 6, IPSO Temperature 3303) and answers Read, Write,
//     Execute, Create, Delete, Discover and Write-Attributes with Records,
//     Links or an *Error carrying the CoAP code to answer with. Its values
//     move over time (Advance): a temperature random walk, a draining
//     battery, drifting location and radio signal, all drawn from one
//     PCG stream seeded by Config.Seed and Config.Index, so the same
//     seed and device give the same values at the same times. The
//     Firmware Update state machine moves on Writes and Execute, and on
//     the outcomes the client reports (FirmwareDownloaded,
//     FirmwareUpdated).
//   - Notifications: Attributes (pmin, pmax, gt, lt, st) as written per
//     level and inherited (Model.Attributes), and Attributes.Notify, which
//     decides whether a new value is notified now or when to ask again.
//   - Registration: Registration builds the Register, Update and
//     De-register requests (path, query, link-format payload).
//
// # What it does not do
//
// No sockets, no CoAP messages, no timers: the client maps requests to
// Model calls and the codes of *Error to responses, schedules Advance
// and notifications, and owns queue mode (sleeping between Updates),
// Observe bookkeeping, Send and the composite operations, bootstrap, and
// DTLS. Attributes are kept for one server (no ssid); epmin and epmax
// are refused. LwM2M CBOR (11544) and the OMA JSON of LwM2M 1.0 (11543)
// are not implemented.
package lwm2m
