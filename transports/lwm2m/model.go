package lwm2m

import (
	"slices"
)

// Model is the object tree of one simulated device: the objects it
// implements, their instances and resource values, the attributes
// servers wrote, and the simulation that moves the values over time. It
// answers the Device Management operations (Read, Write, Execute,
// Create, Delete, Discover, Write-Attributes) with records or a typed
// *Error.
//
// A Model has no lock: it belongs to its device, and the device's owner
// (one goroutine at a time) calls it. Its callbacks run synchronously
// inside the call that triggered them.
type Model struct {
	cfg     Config
	objects []*object           // sorted by id
	attrs   map[Path]Attributes // Write-Attributes, per level
	changed []Path              // changes not yet collected by Changes
	sim     simulator
}

// object is one implemented object and its instances, sorted by id.
type object struct {
	def       *ObjectDef
	instances []*instance
}

// instance holds one slot per resource of its object's definition.
type instance struct {
	id    uint16
	slots []slot
}

// slot is a resource's state: its value, or its instances when it is a
// multi-instance resource (sorted by id). Executable resources have a
// slot with no value.
type slot struct {
	value Value
	multi []resInst
}

type resInst struct {
	id    uint16
	value Value
}

// NewModel returns the tree of one device, its values seeded from
// cfg.Seed and cfg.Index: the same configuration gives the same values,
// step after step.
func NewModel(cfg Config) *Model {
	cfg = cfg.withDefaults()
	m := &Model{cfg: cfg, attrs: map[Path]Attributes{}}
	for i := range definitions {
		m.objects = append(m.objects, &object{def: &definitions[i]})
	}
	m.populate()
	m.changed = m.changed[:0]
	return m
}

func (m *Model) object(id uint16) *object {
	i, ok := slices.BinarySearchFunc(m.objects, id, func(o *object, id uint16) int { return int(o.def.ID) - int(id) })
	if !ok {
		return nil
	}
	return m.objects[i]
}

func (o *object) find(id uint16) (int, bool) {
	return slices.BinarySearchFunc(o.instances, id, func(in *instance, id uint16) int { return int(in.id) - int(id) })
}

func (o *object) instance(id uint16) *instance {
	if i, ok := o.find(id); ok {
		return o.instances[i]
	}
	return nil
}

// newInstance adds instance id with every resource at its type's zero
// value and no resource instances.
func (o *object) newInstance(id uint16) *instance {
	in := &instance{id: id, slots: make([]slot, len(o.def.Resources))}
	for i, r := range o.def.Resources {
		in.slots[i].value = Value{typ: r.Type}
	}
	i, _ := o.find(id)
	o.instances = slices.Insert(o.instances, i, in)
	return in
}

// freeID returns the lowest instance id not in use.
func (o *object) freeID() uint16 {
	id := uint16(0)
	for _, in := range o.instances {
		if in.id != id {
			break
		}
		id++
	}
	return id
}

// target is a resolved resource path.
type target struct {
	obj  *object
	inst *instance
	def  *ResourceDef
	slot *slot
}

// resolve finds the object, instance and (for depth 3 and 4) the
// resource p names, or a 4.04 *Error.
func (m *Model) resolve(p Path) (target, error) {
	var t target
	if p.Depth() == 0 {
		return t, nil
	}
	if t.obj = m.object(p.Object()); t.obj == nil {
		return t, notFound(p)
	}
	if p.Depth() == 1 {
		return t, nil
	}
	if t.inst = t.obj.instance(p.Instance()); t.inst == nil {
		return t, notFound(p)
	}
	if p.Depth() == 2 {
		return t, nil
	}
	def, ok := t.obj.def.Resource(p.Resource())
	if !ok {
		return t, notFound(p)
	}
	t.def, t.slot = def, &t.inst.slots[def.index(t.obj.def)]
	if p.Depth() == 4 && (!def.Multiple || t.slot.find(p.ResourceInstance()) < 0) {
		return t, notFound(p)
	}
	return t, nil
}

// index returns the position of r in d.Resources.
func (r *ResourceDef) index(d *ObjectDef) int {
	i, _ := slices.BinarySearchFunc(d.Resources, r.ID, func(x ResourceDef, id uint16) int { return int(x.ID) - int(id) })
	return i
}

// find returns the position of resource instance id, or -1.
func (s *slot) find(id uint16) int {
	i, ok := slices.BinarySearchFunc(s.multi, id, func(x resInst, id uint16) int { return int(x.id) - int(id) })
	if !ok {
		return -1
	}
	return i
}

// put sets resource instance id, adding it when missing.
func (s *slot) put(id uint16, v Value) {
	i, ok := slices.BinarySearchFunc(s.multi, id, func(x resInst, id uint16) int { return int(x.id) - int(id) })
	if ok {
		s.multi[i].value = v
		return
	}
	s.multi = slices.Insert(s.multi, i, resInst{id, v})
}

// Type returns the type of the resource at p (depth 3, or depth 4 for a
// multi-instance resource). It is the TypeFunc to decode payloads for
// this device with: Decode(f, p, payload, m.Type).
func (m *Model) Type(p Path) (Type, bool) {
	if p.Depth() < 3 {
		return TypeNone, false
	}
	o := m.object(p.Object())
	if o == nil {
		return TypeNone, false
	}
	def, ok := o.def.Resource(p.Resource())
	if !ok || (p.Depth() == 4 && !def.Multiple) {
		return TypeNone, false
	}
	return def.Type, true
}

// Get returns the value of a single-instance resource (depth 3) or of a
// resource instance (depth 4).
func (m *Model) Get(p Path) (Value, bool) {
	t, err := m.resolve(p)
	switch {
	case err != nil || p.Depth() < 3:
		return Value{}, false
	case p.Depth() == 4:
		return t.slot.multi[t.slot.find(p.ResourceInstance())].value, true
	case t.def.Multiple:
		return Value{}, false
	}
	return t.slot.value, true
}

// Set changes a value as the device itself would, whatever operations
// the resource allows a server: a single-instance resource (depth 3) or
// a resource instance (depth 4, added when missing). The value must be
// of the resource's type.
func (m *Model) Set(p Path, v Value) error {
	t, err := m.resolve(p.Truncate(3))
	if err != nil {
		return err
	}
	if p.Depth() < 3 || t.def.Multiple != (p.Depth() == 4) {
		return badRequest("set: %v is not a value of %v", p, p.Truncate(3))
	}
	if v.Type() != t.def.Type {
		return badRequest("set: %v is %v, not %v", p, t.def.Type, v.Type())
	}
	m.store(t.slot, p, v)
	return nil
}

// store writes v at p into s and records a change when the value is new.
func (m *Model) store(s *slot, p Path, v Value) {
	if p.Depth() == 3 {
		if s.value != v {
			s.value = v
			m.touch(p)
		}
		return
	}
	if i := s.find(p.ResourceInstance()); i >= 0 && s.multi[i].value == v {
		return
	}
	s.put(p.ResourceInstance(), v)
	m.touch(p.Parent())
}

// touch records that the value at p (a resource, or an instance created
// or deleted) changed.
func (m *Model) touch(p Path) {
	if !slices.Contains(m.changed, p) {
		m.changed = append(m.changed, p)
	}
}

// Changes appends to dst the resources whose values changed, and the
// instances created or deleted, since the last call, in the order they
// first changed; a device client checks them against its observations.
func (m *Model) Changes(dst []Path) []Path {
	dst = append(dst, m.changed...)
	m.changed = m.changed[:0]
	return dst
}
