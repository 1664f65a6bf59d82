//! Closed sets of named things with a fixed order: a stream's rules (whose order is their bit
//! in a mask), a model's feature columns (whose order is their column), a generator's
//! categories. Each set is declared once, with `named_enum!`, so that its names, positions and
//! members cannot drift apart, and code refers to a member by a name the compiler checks.

/// A member of a closed, ordered set of named things.
pub trait Named: Copy + Eq + std::fmt::Debug + 'static {
    /// Every member, in declaration order.
    const ALL: &'static [Self];
    /// The member's name as it appears on the wire, on screen and in reports.
    fn name(self) -> &'static str;
    /// The member's position in `ALL`.
    fn index(self) -> usize;

    /// The member called `name`, if any.
    fn named(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// The member's bit in a mask of members (sets of at most 32).
    fn bit(self) -> u32 {
        1 << self.index()
    }
}

/// Declares an enum whose variants carry their names, and implements [`Named`] for it.
/// `index` and `name` are `const fn`s, so a member's position can be used in constants.
///
/// ```ignore
/// named_enum! {
///     /// The sensor stream's rules, in bit order.
///     pub enum SensorRule { ZScore = "zscore", Threshold = "threshold" }
/// }
/// ```
#[macro_export]
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// The number of members.
            pub const COUNT: usize = [$($name::$variant),+].len();
            /// Every member, in order (as an array: `Named::ALL` is this as a slice).
            pub const ALL: [$name; $name::COUNT] = [$($name::$variant),+];
            /// Every name, in order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The member's position (usable in constants).
            pub const fn index(self) -> usize {
                self as usize
            }

            /// The member's name (usable in constants).
            pub const fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl $crate::named::Named for $name {
            const ALL: &'static [Self] = &$name::ALL;
            fn name(self) -> &'static str {
                $name::name(self)
            }
            fn index(self) -> usize {
                $name::index(self)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::Named;

    crate::named_enum! {
        enum Colour { Red = "red", Green = "green", Blue = "blue" }
    }

    #[test]
    fn names_positions_and_bits_follow_the_declaration() {
        assert_eq!(Colour::COUNT, 3);
        assert_eq!(Colour::NAMES, &["red", "green", "blue"]);
        for (i, c) in Colour::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
            assert_eq!(Colour::named(c.name()), Some(*c));
            assert_eq!(c.bit(), 1 << i);
        }
        assert_eq!(Colour::named("purple"), None);
        const GREEN: usize = Colour::Green.index();
        assert_eq!(GREEN, 1);
    }
}
