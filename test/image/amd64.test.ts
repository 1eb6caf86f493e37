// The image's runtime stage as a root filesystem for linux/amd64, with the chart's container run in it (suite.ts).
import { imageSuite } from './suite.ts';

imageSuite('amd64');
