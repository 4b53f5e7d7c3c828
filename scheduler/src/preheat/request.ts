import { type ImageReference, type Platform, parsePlatform, parseReference } from '@shoal/oci';
import { z } from 'zod';
import type { PreheatScope } from './job.ts';

/** A preheat request, checked: `POST /api/v1/preheat` body. */
export interface PreheatRequest {
  reference: ImageReference;
  platform?: Platform;
  scope: PreheatScope;
}

/** Throws the parser's message as a zod issue. */
function parsedWith<T>(parse: (value: string) => T) {
  return (value: string, ctx: z.RefinementCtx): T => {
    try {
      return parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  };
}

const requestSchema = z.strictObject({
  image: z
    .string({ error: 'required: an image reference, e.g. docker.io/library/alpine:3.20' })
    .min(1, 'required: an image reference, e.g. docker.io/library/alpine:3.20')
    .transform(parsedWith(parseReference)),
  platform: z.string().transform(parsedWith(parsePlatform)).optional(),
  scope: z.enum(['seed', 'all'], { error: 'expected "seed" or "all"' }).default('seed'),
});

export type RequestCheck = { ok: true; request: PreheatRequest } | { ok: false; error: string };

/** Checks a decoded JSON body; the error names every field that is wrong. */
export function checkPreheatRequest(body: unknown): RequestCheck {
  const result = requestSchema.safeParse(body);
  if (!result.success) {
    const problems = result.error.issues.map((issue) =>
      issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message,
    );
    return { ok: false, error: problems.join('; ') };
  }
  const { image, platform, scope } = result.data;
  return { ok: true, request: { reference: image, scope, ...(platform ? { platform } : {}) } };
}
