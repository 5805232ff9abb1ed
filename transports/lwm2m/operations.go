package lwm2m

// Read appends to dst the readable values at p: every readable resource
// of every instance of an object, of one instance, one resource (one
// record per instance of a multi-instance resource), or one resource
// instance. Errors: 4.04 for a path the device lacks, 4.05 for a
// resource that cannot be read or the root.
func (m *Model) Read(p Path, dst []Record) ([]Record, error) {
	t, err := m.resolve(p)
	switch {
	case err != nil:
		return dst, err
	case p.Depth() == 0:
		return dst, notAllowed("read on the root")
	case p.Depth() >= 3 && t.def.Ops&OpRead == 0:
		return dst, notAllowed("%v is not readable", p.Truncate(3))
	case p.Depth() == 4:
		return append(dst, Record{Path: p, Value: t.slot.multi[t.slot.find(p.ResourceInstance())].value}), nil
	case p.Depth() == 3:
		return appendSlot(dst, p, t.def, t.slot), nil
	}
	n := len(dst)
	for _, in := range t.obj.instances {
		if p.Depth() == 1 || in == t.inst {
			dst = appendInstance(dst, ObjectPath(p.Object()).Child(in.id), t.obj.def, in)
		}
	}
	if len(dst) == n && !readable(t.obj.def) {
		return dst, notAllowed("%v has no readable resources", p)
	}
	return dst, nil
}

func readable(d *ObjectDef) bool {
	for _, r := range d.Resources {
		if r.Ops&OpRead != 0 {
			return true
		}
	}
	return false
}

func appendInstance(dst []Record, p Path, d *ObjectDef, in *instance) []Record {
	for i := range d.Resources {
		if d.Resources[i].Ops&OpRead != 0 {
			dst = appendSlot(dst, p.Child(d.Resources[i].ID), &d.Resources[i], &in.slots[i])
		}
	}
	return dst
}

func appendSlot(dst []Record, p Path, def *ResourceDef, s *slot) []Record {
	if !def.Multiple {
		return append(dst, Record{Path: p, Value: s.value})
	}
	for _, ri := range s.multi {
		dst = append(dst, Record{Path: p.Child(ri.id), Value: ri.value})
	}
	return dst
}

// Write stores the records a server wrote to p: an object instance, a
// resource or a resource instance. replace is the PUT of Core §5.4.3: a
// multi-instance resource in the payload loses the instances the payload
// does not name; without it (POST, partial update) they stay. Every
// record is checked before any is stored: 4.04 for an unknown path, 4.05
// for a resource that is not writable (or a write on an object), 4.00
// for a value of the wrong type or shape. Writes to the Firmware Update
// object drive its state machine (see FirmwareState).
func (m *Model) Write(p Path, recs []Record, replace bool) error {
	if p.Depth() < 2 {
		return notAllowed("write on %v", p)
	}
	if _, err := m.resolve(p.Truncate(2)); err != nil {
		return err
	}
	for _, r := range recs {
		if err := m.checkWrite(p, r); err != nil {
			return err
		}
	}
	if err := m.firmwareWrite(recs); err != nil {
		return err
	}
	if replace && p.Depth() <= 3 {
		m.clearMultiple(recs)
	}
	for _, r := range recs {
		t, _ := m.resolve(r.Path.Truncate(3))
		m.store(t.slot, r.Path, r.Value)
	}
	m.afterWrite(recs)
	return nil
}

// checkWrite validates one record of a Write on p.
func (m *Model) checkWrite(p Path, r Record) error {
	if !r.Path.Under(p) || r.Path.Depth() < 3 {
		return badRequest("write on %v: record %v is not a resource under it", p, r.Path)
	}
	t, err := m.resolve(r.Path.Truncate(3))
	if err != nil {
		return err
	}
	return checkValue(t.def, r, OpWrite)
}

// checkValue checks a record against its resource's definition: the
// operation allowed, the shape (single value or instances) and the type.
func checkValue(def *ResourceDef, r Record, op Operations) error {
	switch {
	case def.Ops&op == 0:
		return notAllowed("%v is not writable", r.Path.Truncate(3))
	case def.Multiple != (r.Path.Depth() == 4):
		return badRequest("%v: %v is a %s resource", r.Path, def.Name, shape(def.Multiple))
	case r.Value.Type() != def.Type:
		return badRequest("%v is %v, not %v", r.Path, def.Type, r.Value.Type())
	}
	return nil
}

func shape(multi bool) string {
	if multi {
		return "multi-instance"
	}
	return "single-instance"
}

// clearMultiple empties the multi-instance resources a replacing write
// carries, so that they end up with exactly the instances written.
func (m *Model) clearMultiple(recs []Record) {
	for _, r := range recs {
		if r.Path.Depth() != 4 {
			continue
		}
		t, _ := m.resolve(r.Path.Truncate(3))
		if len(t.slot.multi) > 0 {
			t.slot.multi = t.slot.multi[:0]
			m.touch(r.Path.Parent())
		}
	}
}

// Execute runs the executable resource p with the arguments of the
// request's payload. The device's own executables act first (Firmware
// Update/Update starts the update, Reset Min and Max resets the
// temperature extremes, Reset Error Code clears the error codes); then
// Config.OnExecute hears of it. Errors: 4.04, 4.05 (not executable, or
// Update outside state Downloaded).
func (m *Model) Execute(p Path, args []byte) error {
	t, err := m.resolve(p)
	switch {
	case err != nil:
		return err
	case p.Depth() != 3 || t.def.Ops&OpExecute == 0:
		return notAllowed("%v is not executable", p)
	}
	if err := m.execute(p); err != nil {
		return err
	}
	if m.cfg.OnExecute != nil {
		m.cfg.OnExecute(p, args)
	}
	return nil
}

func (m *Model) execute(p Path) error {
	switch {
	case p == ResourcePath(ObjectFirmware, 0, 2):
		return m.firmwareExecute()
	case p.Object() == ObjectTemperature && p.Resource() == 5605:
		m.sim.resetExtremes(m, p.Instance())
	case p == ResourcePath(ObjectDevice, 0, 12):
		t, _ := m.resolve(ResourcePath(ObjectDevice, 0, 11))
		t.slot.multi = t.slot.multi[:0]
		m.store(t.slot, ResourceInstancePath(ObjectDevice, 0, 11, 0), Int(0))
	}
	return nil
}

// Create adds an instance to the multi-instance object p with the
// records' values, and returns its path. The records name the new
// instance's id, or NewInstance to let the device pick the lowest free
// one; resources they leave out start at their type's zero value.
// Errors: 4.04 (no such object), 4.05 (a single-instance object),
// 4.00 (an id in use, records for several instances, a wrong value).
func (m *Model) Create(p Path, recs []Record) (Path, error) {
	if p.Depth() != 1 {
		return Path{}, notAllowed("create on %v", p)
	}
	o := m.object(p.Object())
	switch {
	case o == nil:
		return Path{}, notFound(p)
	case !o.def.Multiple:
		return Path{}, notAllowed("%v is a single-instance object", p)
	}
	id, err := createID(o, p, recs)
	if err != nil {
		return Path{}, err
	}
	for _, r := range recs {
		def, ok := o.def.Resource(r.Path.Resource())
		if !ok {
			return Path{}, badRequest("create: %v has no resource %d", p, r.Path.Resource())
		}
		if err := checkValue(def, r, OpRead|OpWrite); err != nil {
			return Path{}, badRequest("create: %v", err)
		}
	}
	in := o.newInstance(id)
	ip := InstancePath(p.Object(), id)
	for _, r := range recs {
		def, _ := o.def.Resource(r.Path.Resource())
		rp := ip.Child(r.Path.Resource())
		if r.Path.Depth() == 4 {
			rp = rp.Child(r.Path.ResourceInstance())
		}
		m.store(&in.slots[def.index(o.def)], rp, r.Value)
	}
	m.touch(ip)
	return ip, nil
}

// createID returns the id the records of a Create ask for.
func createID(o *object, p Path, recs []Record) (uint16, error) {
	id := NewInstance
	for i, r := range recs {
		if !r.Path.Under(p) || r.Path.Depth() < 3 {
			return 0, badRequest("create: record %v is not a resource of %v", r.Path, p)
		}
		if i > 0 && r.Path.Instance() != id {
			return 0, badRequest("create: records for instances %d and %d", id, r.Path.Instance())
		}
		id = r.Path.Instance()
	}
	if id == NewInstance {
		return o.freeID(), nil
	}
	if o.instance(id) != nil {
		return 0, badRequest("create: %v exists", InstancePath(p.Object(), id))
	}
	return id, nil
}

// Delete removes object instance p with the attributes written to it.
// The Security and Server instances, which only the bootstrap server
// manages, and the instances of single-instance objects cannot be
// deleted (4.05).
func (m *Model) Delete(p Path) error {
	if p.Depth() != 2 {
		return notAllowed("delete on %v", p)
	}
	t, err := m.resolve(p)
	if err != nil {
		return err
	}
	if !t.obj.def.Multiple || p.Object() == ObjectSecurity || p.Object() == ObjectServer {
		return notAllowed("instances of %v cannot be deleted", ObjectPath(p.Object()))
	}
	i, _ := t.obj.find(p.Instance())
	t.obj.instances = append(t.obj.instances[:i], t.obj.instances[i+1:]...)
	for ap := range m.attrs {
		if ap.Under(p) {
			delete(m.attrs, ap)
		}
	}
	m.touch(p)
	return nil
}
