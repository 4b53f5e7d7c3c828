export { type RunningScheduler, type SchedulerConfig, startScheduler } from './server.ts';
