import { context } from "./console.js";
