import { ValidationError, ValidationPipe } from '@nestjs/common';
import { Errors } from '@tally/contracts';

function firstProblem(errors: ValidationError[], parent = ''): { field: string; message: string } {
  const error = errors[0];
  const field = parent ? `${parent}.${error.property}` : error.property;
  if (error.constraints) return { field, message: Object.values(error.constraints)[0] };
  if (error.children?.length) return firstProblem(error.children, field);
  return { field, message: `${field} is invalid` };
}

/** DTO validation whose failures name the field, in the error body every endpoint shares. */
export const tallyValidationPipe = () =>
  new ValidationPipe({
    whitelist: true,
    forbidUnknownValues: true,
    transform: true,
    exceptionFactory: (errors) => {
      const { field, message } = firstProblem(errors);
      return Errors.invalidRequest(field, message);
    },
  });
