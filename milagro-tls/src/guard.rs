//! Server-side guard state: attempt reservations, lockout, replay cache, throttle. (In progress.)
