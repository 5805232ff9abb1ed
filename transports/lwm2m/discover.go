package lwm2m

import "strconv"

// WriteAttributes applies the Uri-Query of a Write-Attributes request
// ("pmin=10", "gt=30", a bare "lt" to remove lt) to the attributes of p:
// an object, an instance, a resource or a resource instance. pmin and
// pmax belong to every level; gt, lt and st only to numeric resources.
// Errors: 4.04 for a path the device lacks, 4.00 for an attribute it
// does not take or a combination that makes no sense (lt not below gt,
// lt + 2*st not below gt, pmax below pmin).
func (m *Model) WriteAttributes(p Path, query []string) error {
	if p.Depth() == 0 {
		return notAllowed("write-attributes on the root")
	}
	t, err := m.resolve(p)
	if err != nil {
		return err
	}
	set, clear, err := ParseAttributes(query)
	if err != nil {
		return err
	}
	if set.Has&(HasGT|HasLT|HasST) != 0 && (p.Depth() < 3 || !t.def.Type.Numeric()) {
		return badRequest("attributes: gt, lt and st apply to numeric resources, not %v", p)
	}
	a := m.attrs[p].Clear(clear).Merge(set)
	if err := a.check(); err != nil {
		return err
	}
	if a.Has == 0 {
		delete(m.attrs, p)
	} else {
		m.attrs[p] = a
	}
	return nil
}

// Attributes returns the effective notification attributes of p: those
// written to p, else inherited from the levels above it, else pmin and
// pmax from the Server object's Default Minimum and Maximum Period.
func (m *Model) Attributes(p Path) Attributes {
	var a Attributes
	if v, ok := m.Get(ResourcePath(ObjectServer, 0, 2)); ok && v.Int() > 0 {
		a.Has, a.PMin = a.Has|HasPMin, durationSeconds(v.Int())
	}
	if v, ok := m.Get(ResourcePath(ObjectServer, 0, 3)); ok && v.Int() > 0 {
		a.Has, a.PMax = a.Has|HasPMax, durationSeconds(v.Int())
	}
	return a.Merge(m.inherited(p))
}

// inherited merges the attributes written at every level from the
// object down to p.
func (m *Model) inherited(p Path) Attributes {
	var a Attributes
	for d := 1; d <= p.Depth(); d++ {
		a = a.Merge(m.attrs[p.Truncate(d)])
	}
	return a
}

// Discover answers a Discover on an object, an object instance or a
// resource (Core §5.4.1): the links below p with
// the attributes written at each level, dim on multi-instance resources
// and ver on an object whose version is not 1.0. On a resource the
// attributes include those inherited from its object and instance.
func (m *Model) Discover(p Path) ([]Link, error) {
	if p.Depth() == 0 || p.Depth() == 4 {
		return nil, notAllowed("discover on %v", p)
	}
	t, err := m.resolve(p)
	if err != nil {
		return nil, err
	}
	if p.Depth() == 3 {
		return []Link{m.resourceLink(p, t.def, t.slot, m.inherited(p))}, nil
	}
	var links []Link
	if p.Depth() == 1 {
		links = append(links, m.objectLink(t.obj))
	}
	for _, in := range t.obj.instances {
		if p.Depth() == 2 && in != t.inst {
			continue
		}
		ip := InstancePath(p.Object(), in.id)
		links = append(links, Link{Target: ip.String(), Attrs: m.attrs[ip].AppendAttrs(nil)})
		for i := range t.obj.def.Resources {
			def := &t.obj.def.Resources[i]
			rp := ip.Child(def.ID)
			links = append(links, m.resourceLink(rp, def, &in.slots[i], m.attrs[rp]))
		}
	}
	return links, nil
}

func (m *Model) objectLink(o *object) Link {
	p := ObjectPath(o.def.ID)
	l := Link{Target: p.String()}
	if o.def.Version != "1.0" {
		l.Attrs = append(l.Attrs, Attr{Name: "ver", Value: o.def.Version})
	}
	l.Attrs = m.attrs[p].AppendAttrs(l.Attrs)
	return l
}

func (m *Model) resourceLink(p Path, def *ResourceDef, s *slot, a Attributes) Link {
	l := Link{Target: p.String()}
	if def.Multiple {
		l.Attrs = append(l.Attrs, Attr{Name: "dim", Value: strconv.Itoa(len(s.multi))})
	}
	l.Attrs = a.AppendAttrs(l.Attrs)
	return l
}

// RegisterLinks returns the objects and instances a Register or Update
// payload lists (Core §6.2.1): every instance as </o/i>, an object with
// no instance as </o>, and </o>;ver=x before the instances of an object
// whose version is not 1.0. The Security object is never listed.
func (m *Model) RegisterLinks() []Link {
	var links []Link
	for _, o := range m.objects {
		if o.def.ID == ObjectSecurity {
			continue
		}
		if o.def.Version != "1.0" || len(o.instances) == 0 {
			l := Link{Target: ObjectPath(o.def.ID).String()}
			if o.def.Version != "1.0" {
				l.Attrs = []Attr{{Name: "ver", Value: o.def.Version}}
			}
			links = append(links, l)
		}
		for _, in := range o.instances {
			links = append(links, Link{Target: InstancePath(o.def.ID, in.id).String()})
		}
	}
	return links
}
