/** Text assets embedded in the executable (`import x from "./f.service" with { type: "text" }`). */
declare module "*.service" {
  const text: string;
  export default text;
}
