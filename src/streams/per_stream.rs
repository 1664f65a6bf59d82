//! One value per stream, indexed by `StreamKind`: the one place that knows how many streams
//! there are, so per-stream state is declared as `PerStream<T>` and a new stream needs no
//! array length changed anywhere else.

use std::ops::{Index, IndexMut};

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::StreamKind;

/// A `T` for every stream, in `StreamKind::ALL` order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PerStream<T>([T; StreamKind::COUNT]);

impl<T> PerStream<T> {
    /// Each stream's value from `f`.
    pub fn from_fn(mut f: impl FnMut(StreamKind) -> T) -> Self {
        Self(StreamKind::ALL.map(&mut f))
    }

    /// The same value for every stream.
    pub fn splat(value: T) -> Self
    where
        T: Clone,
    {
        Self::from_fn(|_| value.clone())
    }

    /// Every stream with its value, in order.
    pub fn iter(&self) -> impl Iterator<Item = (StreamKind, &T)> {
        StreamKind::ALL.into_iter().zip(&self.0)
    }

    /// Every stream with its value, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (StreamKind, &mut T)> {
        StreamKind::ALL.into_iter().zip(&mut self.0)
    }

    /// The values, in stream order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }

    /// The values, mutably.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.0.iter_mut()
    }

    /// Each value mapped by `f`.
    pub fn map<U>(&self, mut f: impl FnMut(StreamKind, &T) -> U) -> PerStream<U> {
        PerStream::from_fn(|k| f(k, &self[k]))
    }
}

impl<T> Index<StreamKind> for PerStream<T> {
    type Output = T;
    fn index(&self, kind: StreamKind) -> &T {
        &self.0[kind.index()]
    }
}

impl<T> IndexMut<StreamKind> for PerStream<T> {
    fn index_mut(&mut self, kind: StreamKind) -> &mut T {
        &mut self.0[kind.index()]
    }
}

/// Serialised as the values in stream order, as the arrays it replaced were.
impl<T: Serialize> Serialize for PerStream<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Read as a table keyed by the streams' names (`[streams.sensor]` in a config file): a
/// stream left out keeps its default, a name that is no stream is an error.
impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for PerStream<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ByName<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for ByName<T> {
            type Value = PerStream<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table keyed by stream names")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = PerStream::<T>::default();
                while let Some(kind) = map.next_key::<StreamKind>()? {
                    out[kind] = map.next_value()?;
                }
                Ok(out)
            }
        }
        d.deserialize_map(ByName(std::marker::PhantomData))
    }
}
