// The sandbox and the tests share one moto launcher.
export { type MotoServer, motoEnv, startMoto } from '../../infra/local/moto.js';
