export * from './pipeline';
export * from './member';
export { memberPropsFromContext, propsFromContext } from './context';
export { archiveSettings } from './validate';
