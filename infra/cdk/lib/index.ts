export * from './pipeline';
export { propsFromContext } from './context';
export { archiveSettings } from './validate';
