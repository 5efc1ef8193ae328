mod corruption;
mod crash;
mod fencing;
mod follow;
mod state;
