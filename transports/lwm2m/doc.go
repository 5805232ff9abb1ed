// Package lwm2m is an OMA LightweightM2M 1.1 device: the data layer (what
// a simulated meter or tracker holds and how it writes it on the wire)
// and a device client that runs it over a coap.Session against a real
// server. Package server (transports/lwm2m/server) is an embedded LwM2M
// server to run it against.
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
// # The device client
//
// Start dials a coap.Session (ClientOptions.CoAP: the address, the
// dial.Func through which shaping, source pools and NAT compose, the
// seed and stream, the transmission parameters) and registers: POST /rd
// with the Registration's query and the Model's object links (content
// format 40), keeping the Location-Path the server answers. Then:
//
//   - Registration: an Update before the lifetime runs out (at UpdateAt,
//     90 % of lt), an Update with the new links when a server created or
//     deleted an instance, a Register at once when an Update is answered
//     4.04 (the server forgot the device) and after RetryDelay when one
//     failed; Close de-registers (DELETE, at most CloseTimeout).
//
//   - Queue mode (the Q parameter of 1.1, "UQ" in 1.0): Sleep makes the
//     device deaf, as a radio in PSM or between eDRX paging windows is:
//     the datagrams that reach its socket are dropped, and it sends no
//     notification. Wake (or Update, or the lifetime's renewal) wakes it
//     and sends an Update, after which the server delivers what it
//     queued. The engine's power model drives Sleep and Wake.
//
//   - Device Management: the session's Handler maps the server's
//     requests to the Model (Transport §6.3): GET is Read (Accept: TLV,
//     SenML JSON, SenML CBOR, text, opaque; without Accept text/plain,
//     or opaque, for one value and TLV for more), or Discover with
//     Accept: link format; PUT is Write (replace), or Write-Attributes
//     when it carries a query and no payload; POST on an object is
//     Create (2.01 with Location-Path), on an instance a partial Write,
//     on a resource Execute; DELETE on an instance is Delete. The
//     Model's *Error codes are the answers, with their reason as a
//     diagnostic payload.
//
//   - Information Reporting: a GET with Observe 0 registers the token
//     and answers with the value and a sequence number; GET with Observe
//     1, an RST to a confirmable notification, or its timeout end the
//     observation. One check per client (every CheckEvery while
//     something is observed, sooner when pmin or pmax fall due) advances
//     the Model and asks Attributes.Notify about each observation: a
//     resource is compared by value (so gt, lt and st apply), an
//     instance or object by its encoded payload. Notifications go with
//     Session.Notify, confirmable unless NonConfirmableNotify. A deleted
//     instance ends its observations with a 4.04 notification.
//
//   - Firmware update, pull (Core §E.6): a Write of a coap:// Package
//     URI (/5/0/1) starts a block-wise download (Session.Download) over
//     the client's own session when the URI names its server, else over
//     a transient session; the Model goes Downloading, then Downloaded
//     or Idle with a failure result (4 for a lost connection, 7 when the
//     server has no package there, 9 for another scheme). Execute on
//     /5/0/2 goes Updating; after FirmwareUpdateTime the update
//     succeeds (result 1) and the device registers again, as after a
//     reboot into the new firmware. Nothing of the package is kept: the
//     blocks are counted, not assembled.
//
//   - Send (1.1's client-initiated reporting, Core §6.4.4): Send posts
//     records to /dp in SenML CBOR or JSON, confirmable, without
//     waiting; the server's 2.04 comes to its done function.
//
// The caller records figures through function-typed callbacks
// (OnRegistered and OnUpdated with the latency, OnRequest with the
// operation and the code answered, OnNotify, OnFirmware with the
// download's duration and bytes, OnError, OnLost). They run on the
// session's reader goroutine or the client's timer goroutine, never
// under the client's lock, and must not block.
//
// Budget per device: the session's reader goroutine and runtime timer,
// and one time.AfterFunc timer of the client's, armed for the earliest
// of the renewal, the next observation check and the end of a firmware
// install (its goroutine exists only while it runs). A firmware
// download from a server other than the registration's adds a goroutine
// and a session for the transfer's length. The engine's scheduler could
// drive the client instead (a Tick(now) method) if timers ever cost too
// much at scale; at 10,000 devices they do not: see the server
// package's TestFleetFootprint.
//
// # What it does not do
//
// Composite operations
// (Read-Composite, Observe-Composite, Write-Composite), bootstrap, or
// DTLS. Attributes are kept for one server (no ssid); epmin and epmax
// are refused. LwM2M CBOR (11544) and the OMA JSON of LwM2M 1.0 (11543)
// are not implemented. The client speaks to one server; a Package URI
// on another host is fetched, but its host must be written as an
// address (no name resolution on the reader goroutine) to be recognised
// as the registration's own server. Block-wise transfers of DM payloads
// (a Read answer larger than a block, a Block1 Write) are not taken:
// the device's objects fit a datagram.
package lwm2m
