//! Budgets: estimates before a mission runs. (Spending is recorded by the supervisor.)

pub mod estimate;
