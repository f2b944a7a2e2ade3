//! Services hosted below the process identity (`RacewayLayer::service_name`): a gateway, an
//! inventory and a payment service in one process each show under their own name.
//!
//! A service is registered once, when a layer is configured, and gets a small number
//! ([`ServiceId`]) that the ids of its tasks carry (see `TaskId::service`). So an event needs no
//! field of its own for it, recording does no lookup, and the exporter renders each service's
//! metadata once rather than per event. Number 0 is the process itself (the `init` identity).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// Which service a task belongs to: 0 the process's own, `n` the `n`-th registered.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub(crate) struct ServiceId(pub(crate) u16);

impl ServiceId {
    /// The process's own identity, as given to `init`.
    pub(crate) const PROCESS: ServiceId = ServiceId(0);
}

/// The most services a process registers; later names fall back to the process's own. The
/// registry lives as long as the process, so it must not grow with input (a name per tenant,
/// per request); the number must also fit the 15 bits a task id keeps for it.
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(crate) const MAX_SERVICES: usize = 1024;

/// A service's name and its own instance id; each, when not given, the process's.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Service {
    pub name: Option<String>,
    pub instance_id: Option<String>,
}

static SERVICES: RwLock<Vec<Arc<Service>>> = RwLock::new(Vec::new());
/// How many are registered: lets the exporter see "nothing new" without taking the lock.
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// The number of the service `name` (with `instance_id`), registering it when new. The same
/// name and instance always get the same number, so building a layer per connection or per
/// test costs nothing. Past [`MAX_SERVICES`], and when neither is given, the process's own
/// identity.
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(crate) fn register(name: Option<&str>, instance_id: Option<&str>) -> ServiceId {
    if name.is_none() && instance_id.is_none() {
        return ServiceId::PROCESS;
    }
    let same = |s: &Service| s.name.as_deref() == name && s.instance_id.as_deref() == instance_id;
    if let Some(i) = SERVICES.read().unwrap_or_else(|e| e.into_inner()).iter().position(|s| same(s)) {
        return ServiceId(i as u16 + 1);
    }
    let mut all = SERVICES.write().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = all.iter().position(|s| same(s)) {
        return ServiceId(i as u16 + 1);
    }
    if all.len() >= MAX_SERVICES {
        return ServiceId::PROCESS;
    }
    all.push(Arc::new(Service { name: name.map(str::to_owned), instance_id: instance_id.map(str::to_owned) }));
    COUNT.store(all.len(), Ordering::Release);
    ServiceId(all.len() as u16)
}

/// The registered service `id`; `None` for the process's own.
pub(crate) fn get(id: ServiceId) -> Option<Arc<Service>> {
    let i = usize::from(id.0).checked_sub(1)?;
    SERVICES.read().unwrap_or_else(|e| e.into_inner()).get(i).cloned()
}

/// How many services are registered (their numbers are `1..=count()`).
pub(crate) fn count() -> usize {
    COUNT.load(Ordering::Acquire)
}

/// Every registered service with its number.
pub(crate) fn all() -> Vec<(ServiceId, Arc<Service>)> {
    let all = SERVICES.read().unwrap_or_else(|e| e.into_inner());
    all.iter().enumerate().map(|(i, s)| (ServiceId(i as u16 + 1), s.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_and_instance_get_the_same_number() {
        let a = register(Some("svc-registry-a"), None);
        assert_ne!(a, ServiceId::PROCESS);
        assert_eq!(register(Some("svc-registry-a"), None), a);
        assert_ne!(register(Some("svc-registry-a"), Some("i2")), a, "another instance is another service");
        assert_eq!(get(a).unwrap().name.as_deref(), Some("svc-registry-a"));
        assert_eq!(register(None, None), ServiceId::PROCESS, "nothing named: the process");
        assert!(get(ServiceId::PROCESS).is_none());
        assert!(count() >= 2);
    }
}
