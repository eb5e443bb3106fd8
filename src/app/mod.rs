//! The application: state, the one update function, and the Actions that drive it. No I/O here:
//! `update` returns effects that the event loop carries out in spawned tasks.
//!
//! Dependencies run one way: `feeds` (sources and their data) ← `action` (Actions, Effects) ←
//! `screens` (the `VIEWS` table, the navigation stack) ← `keymap` ← `state` ← `rows` (what each
//! list shows) ← `update`.

pub mod action;
pub mod feeds;
pub mod help;
pub mod keymap;
pub mod palette;
pub mod rows;
pub mod screens;
pub mod state;
pub mod update;

pub use action::{Action, Effect};
pub use feeds::Payload;
pub use state::App;
pub use update::update;
