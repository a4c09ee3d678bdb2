import { describe, expect, test } from 'vitest';
import { thrown } from '../../test/support/errors.ts';
import { decodeFileData, fileByUrl, mediaTypeOfName, openaiFilename, refuseFile } from './file.ts';

const PDF_B64 = Buffer.from('%PDF-1.7 a tiny document').toString('base64');

describe('file inputs between formats', () => {
  test('mediaTypeOfName reads the extension of a name or a URL path, case-insensitively; unknown or missing extensions give nothing', () => {
    expect(mediaTypeOfName('report.PDF')).toBe('application/pdf');
    expect(mediaTypeOfName('notes.txt')).toBe('text/plain');
    expect(mediaTypeOfName('data.csv')).toBe('text/csv');
    expect(mediaTypeOfName('https://files.example/letters/2024.pdf?sig=a.b#page=2')).toBe('application/pdf');
    expect(mediaTypeOfName('https://files.example/report')).toBeUndefined();
    expect(mediaTypeOfName('archive.zip')).toBeUndefined();
    expect(mediaTypeOfName('README')).toBeUndefined();
    expect(mediaTypeOfName(undefined)).toBeUndefined();
    expect(mediaTypeOfName('')).toBeUndefined();
  });

  test('decodeFileData: a data URL keeps its type; bare base64 takes the file name\'s, else PDF; a non-base64 data URL is a 400 naming the part', () => {
    expect(decodeFileData(`data:application/pdf;base64,${PDF_B64}`, 'a.pdf', 'input[0].content[1]')).toEqual({
      type: 'file',
      field: 'input[0].content[1]',
      filename: 'a.pdf',
      mediaType: 'application/pdf',
      data: PDF_B64,
    });
    expect(decodeFileData('aGk=', 'notes.txt', 'f')).toEqual({ type: 'file', field: 'f', filename: 'notes.txt', mediaType: 'text/plain', data: 'aGk=' });
    expect(decodeFileData(PDF_B64, undefined, 'f')).toEqual({ type: 'file', field: 'f', mediaType: 'application/pdf', data: PDF_B64 });
    expect(decodeFileData(PDF_B64, '', 'f')).toEqual({ type: 'file', field: 'f', mediaType: 'application/pdf', data: PDF_B64 });
    const err = thrown(() => decodeFileData('data:text/plain,hi', 'a.txt', 'messages[0].content[1]'));
    expect([err.status, err.message, err.details.param]).toEqual([400, 'messages[0].content[1]: file_data must be base64, or a data URL with ;base64', 'messages[0].content[1]']);
  });

  test('fileByUrl: the type comes from the file name, else the URL, else stays unknown', () => {
    expect(fileByUrl('https://x.example/doc', 'a.txt', 'f')).toEqual({ type: 'file', field: 'f', url: 'https://x.example/doc', filename: 'a.txt', mediaType: 'text/plain' });
    expect(fileByUrl('https://x.example/letter.pdf', undefined, 'f')).toEqual({ type: 'file', field: 'f', url: 'https://x.example/letter.pdf', mediaType: 'application/pdf' });
    expect(fileByUrl('https://x.example/doc', undefined, 'f')).toEqual({ type: 'file', field: 'f', url: 'https://x.example/doc' });
  });

  test('openaiFilename: what OpenAI gets, with a name of the right extension when the source had none', () => {
    expect(openaiFilename({ type: 'file', field: 'f', filename: 'q3.pdf', mediaType: 'application/pdf', data: '' })).toBe('q3.pdf');
    expect(openaiFilename({ type: 'file', field: 'f', mediaType: 'application/pdf', data: '' })).toBe('document.pdf');
    expect(openaiFilename({ type: 'file', field: 'f', mediaType: 'text/plain', data: '' })).toBe('document.txt');
    expect(openaiFilename({ type: 'file', field: 'f', mediaType: 'application/x-unknown', data: '' })).toBe('document');
  });

  test('refuseFile is an unsupported_parameter 400 naming the part as the client named it', () => {
    const err = refuseFile({ type: 'file', field: 'messages.0.content.1', url: 'https://x.example/a.pdf' }, 'OpenAI-compatible', 'a file by URL');
    expect([err.code, err.status, err.message, err.details.param]).toEqual([
      'unsupported_parameter',
      400,
      'messages.0.content.1: a file by URL has no equivalent in the OpenAI-compatible format',
      'messages.0.content.1',
    ]);
  });
});
