package lwm2m

// Op is a Device Management or Information Reporting operation a server
// sends a device (Core §5.4, §5.5), the label its counts are kept by.
type Op uint8

// The operations. Observe and CancelObserve are a Read with the Observe
// option 0 or 1.
const (
	ReadOp Op = iota
	WriteOp
	ExecuteOp
	DiscoverOp
	WriteAttributesOp
	CreateOp
	DeleteOp
	ObserveOp
	CancelObserveOp
	numOps
)

// NumOps is the number of operations: the ops are 0 to NumOps-1, for
// tables of counts.
const NumOps = int(numOps)

var opNames = [...]string{"read", "write", "execute", "discover", "write-attributes", "create", "delete",
	"observe", "cancel-observe"}

// String returns the operation's name: "read", "write-attributes".
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "op(" + Int(int64(o)).String() + ")"
}
