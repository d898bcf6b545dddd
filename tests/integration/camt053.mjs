// The checks a camt.053.001.02 document (ISO 20022 BankToCustomerStatementV02) must pass to be
// valid against its XSD, for the part of the schema Nova writes, written out by hand from the
// message definition (the XSD itself is not copied here, and nothing is fetched at run time):
// every element's children in the order and number its complex type's sequence allows (or
// exactly one branch of a choice), the required ones present, no element or attribute the
// schema does not have there, and every simple value within its type (lengths of the MaxNText
// types, the code lists, ISO date-times, currency codes, and amounts: decimal, at least 0, at
// most 18 digits of which at most 5 after the point). An element of the schema that Nova does
// not write has no type below: meeting one fails, so the checks grow with the document.
import assert from 'node:assert/strict';

// A small XML reader: elements, attributes, text (the five predefined entities decoded); no
// DTDs, comments, CDATA or other entities (Nova writes none).
export function parseXml(text) {
  assert.match(text, /^<\?xml version="1\.0" encoding="UTF-8"\?>/, 'the XML declaration');
  const decode = (t) => t.replace(/&(lt|gt|amp|quot|apos);/g, (_, e) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[e]);
  assert.ok(!/&(?!(lt|gt|amp|quot|apos);)/.test(text), 'only the predefined entities');
  const root = { name: '#root', children: [], attrs: {}, text: '' };
  const stack = [root];
  const re = /<\?[^>]*\?>|<\/([A-Za-z0-9]+)>|<([A-Za-z0-9]+)((?:\s+[A-Za-z:]+="[^"]*")*)\s*(\/?)>|([^<]+)/g;
  let m;
  while ((m = re.exec(text))) {
    if (m[1]) { const top = stack.pop(); assert.equal(top.name, m[1], 'mismatched </' + m[1] + '>'); }
    else if (m[2]) {
      const el = { name: m[2], children: [], attrs: Object.fromEntries([...m[3].matchAll(/([A-Za-z:]+)="([^"]*)"/g)].map((a) => [a[1], decode(a[2])])), text: '' };
      stack[stack.length - 1].children.push(el);
      if (!m[4]) stack.push(el);
    } else if (m[5] && m[5].trim()) stack[stack.length - 1].text += decode(m[5]);
  }
  assert.equal(stack.length, 1, 'unclosed elements');
  assert.equal(root.children.length, 1, 'one document element');
  return root.children[0];
}

const NS = 'urn:iso:std:iso:20022:tech:xsd:camt.053.001.02';
const U = Infinity;
// Complex types: seq [[element, type, min, max]] or choice [[element, type]]. A null type:
// in the schema here, not written by Nova, so not checked (meeting it fails).
const complex = {
  Document: { seq: [['BkToCstmrStmt', 'BankToCustomerStatementV02', 1, 1]] },
  BankToCustomerStatementV02: { seq: [['GrpHdr', 'GroupHeader42', 1, 1], ['Stmt', 'AccountStatement2', 1, U]] },
  GroupHeader42: { seq: [['MsgId', 'Max35Text', 1, 1], ['CreDtTm', 'ISODateTime', 1, 1], ['MsgRcpt', null, 0, 1], ['MsgPgntn', null, 0, 1], ['AddtlInf', 'Max500Text', 0, 1]] },
  AccountStatement2: {
    seq: [['Id', 'Max35Text', 1, 1], ['ElctrncSeqNb', null, 0, 1], ['LglSeqNb', null, 0, 1], ['CreDtTm', 'ISODateTime', 1, 1], ['FrToDt', 'DateTimePeriodDetails', 0, 1],
      ['CpyDplctInd', null, 0, 1], ['RptgSrc', null, 0, 1], ['Acct', 'CashAccount20', 1, 1], ['RltdAcct', null, 0, 1], ['Intrst', null, 0, U], ['Bal', 'CashBalance3', 1, U],
      ['TxsSummry', null, 0, 1], ['Ntry', 'ReportEntry2', 0, U], ['AddtlStmtInf', 'Max500Text', 0, 1]],
  },
  DateTimePeriodDetails: { seq: [['FrDtTm', 'ISODateTime', 1, 1], ['ToDtTm', 'ISODateTime', 1, 1]] },
  CashAccount20: { seq: [['Id', 'AccountIdentification4Choice', 1, 1], ['Tp', null, 0, 1], ['Ccy', 'ActiveOrHistoricCurrencyCode', 0, 1], ['Nm', 'Max70Text', 0, 1], ['Ownr', null, 0, 1], ['Svcr', null, 0, 1]] },
  AccountIdentification4Choice: { choice: [['IBAN', 'IBAN2007Identifier'], ['Othr', 'GenericAccountIdentification1']] },
  GenericAccountIdentification1: { seq: [['Id', 'Max34Text', 1, 1], ['SchmeNm', null, 0, 1], ['Issr', 'Max35Text', 0, 1]] },
  CashBalance3: { seq: [['Tp', 'BalanceType12', 1, 1], ['CdtLine', null, 0, 1], ['Amt', 'ActiveOrHistoricCurrencyAndAmount', 1, 1], ['CdtDbtInd', 'CreditDebitCode', 1, 1], ['Dt', 'DateAndDateTimeChoice', 1, 1], ['Avlbty', null, 0, U]] },
  BalanceType12: { seq: [['CdOrPrtry', 'BalanceType5Choice', 1, 1], ['SubTp', null, 0, 1]] },
  BalanceType5Choice: { choice: [['Cd', 'BalanceType12Code'], ['Prtry', 'Max35Text']] },
  DateAndDateTimeChoice: { choice: [['Dt', 'ISODate'], ['DtTm', 'ISODateTime']] },
  ReportEntry2: {
    seq: [['NtryRef', 'Max35Text', 0, 1], ['Amt', 'ActiveOrHistoricCurrencyAndAmount', 1, 1], ['CdtDbtInd', 'CreditDebitCode', 1, 1], ['RvslInd', 'TrueFalseIndicator', 0, 1],
      ['Sts', 'EntryStatus2Code', 1, 1], ['BookgDt', 'DateAndDateTimeChoice', 0, 1], ['ValDt', 'DateAndDateTimeChoice', 0, 1], ['AcctSvcrRef', 'Max35Text', 0, 1],
      ['Avlbty', null, 0, U], ['BkTxCd', 'BankTransactionCodeStructure4', 1, 1], ['ComssnWvrInd', null, 0, 1], ['AddtlInfInd', null, 0, 1], ['AmtDtls', null, 0, 1],
      ['Chrgs', null, 0, U], ['TechInptChanl', null, 0, 1], ['Intrst', null, 0, U], ['NtryDtls', null, 0, U], ['AddtlNtryInf', 'Max500Text', 0, 1]],
  },
  BankTransactionCodeStructure4: { seq: [['Domn', null, 0, 1], ['Prtry', 'ProprietaryBankTransactionCodeStructure1', 0, 1]] },
  ProprietaryBankTransactionCodeStructure1: { seq: [['Cd', 'Max35Text', 1, 1], ['Issr', 'Max35Text', 0, 1]] },
};
const maxText = (n) => (t) => t.length >= 1 && t.length <= n;
const dateTime = (t) => {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$/.exec(t);
  return !!m && +m[2] >= 1 && +m[2] <= 12 && +m[3] >= 1 && +m[3] <= 31 && +m[4] <= 23 && +m[5] <= 59 && +m[6] <= 59;
};
const simple = {
  Max35Text: maxText(35), Max34Text: maxText(34), Max70Text: maxText(70), Max500Text: maxText(500),
  ISODateTime: dateTime,
  ISODate: (t) => /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/.test(t),
  ActiveOrHistoricCurrencyCode: (t) => /^[A-Z]{3}$/.test(t),
  IBAN2007Identifier: (t) => /^[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}$/.test(t),
  CreditDebitCode: (t) => ['CRDT', 'DBIT'].includes(t),
  BalanceType12Code: (t) => ['XPCD', 'OPAV', 'ITAV', 'CLAV', 'FWAV', 'CLBD', 'ITBD', 'OPBD', 'PRCD', 'INFO'].includes(t),
  EntryStatus2Code: (t) => ['BOOK', 'PDNG', 'INFO'].includes(t),
  TrueFalseIndicator: (t) => ['true', 'false', '1', '0'].includes(t),
  // xs:decimal, minInclusive 0, totalDigits 18, fractionDigits 5.
  ActiveOrHistoricCurrencyAndAmount: (t) => {
    const m = /^\+?0*([0-9]*)(?:\.([0-9]*?)0*)?$/.exec(t);
    return /^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)$/.test(t) && !!m && m[1].length + (m[2] || '').length <= 18 && (m[2] || '').length <= 5;
  },
};
const attrs = { ActiveOrHistoricCurrencyAndAmount: { Ccy: [true, simple.ActiveOrHistoricCurrencyCode] } };

function check(el, type, path) {
  const where = `${path}/${el.name}`;
  const allowed = attrs[type] || {};
  for (const [k, v] of Object.entries(el.attrs)) {
    if (path === '' && k === 'xmlns') continue;
    assert.ok(allowed[k], `${where}: attribute ${k} is not in the schema`);
    assert.ok(allowed[k][1](v), `${where}: attribute ${k}="${v}" is not a valid ${type}/@${k}`);
  }
  for (const [k, [required]] of Object.entries(allowed)) assert.ok(!required || k in el.attrs, `${where}: attribute ${k} missing`);
  if (simple[type]) {
    assert.equal(el.children.length, 0, `${where}: a ${type} has no elements`);
    assert.ok(simple[type](el.text), `${where}: "${el.text}" is not a valid ${type}`);
    return;
  }
  const def = complex[type];
  assert.ok(def, `${where}: no check for the type ${type}: write one`);
  assert.equal(el.text.trim(), '', `${where}: a ${type} has no text`);
  if (def.choice) {
    assert.equal(el.children.length, 1, `${where}: a ${type} is exactly one of ${def.choice.map((c) => c[0]).join(', ')}`);
    const c = el.children[0];
    const branch = def.choice.find((b) => b[0] === c.name);
    assert.ok(branch, `${where}: ${c.name} is not one of ${type}'s`);
    assert.ok(branch[1], `${where}/${c.name}: in the schema, not written by Nova: write its check`);
    check(c, branch[1], where);
    return;
  }
  let i = 0, count = 0;
  for (const c of el.children) {
    while (i < def.seq.length && def.seq[i][0] !== c.name) {
      assert.ok(count >= def.seq[i][2], `${where}: ${def.seq[i][0]} missing (or out of order)`);
      i++; count = 0;
    }
    assert.ok(i < def.seq.length, `${where}: ${c.name} out of order or not in ${type}`);
    count++;
    assert.ok(count <= def.seq[i][3], `${where}: more than ${def.seq[i][3]} ${c.name}`);
    assert.ok(def.seq[i][1], `${where}/${c.name}: in the schema, not written by Nova: write its check`);
    check(c, def.seq[i][1], where);
  }
  for (; i < def.seq.length; i++, count = 0) assert.ok(count >= def.seq[i][2], `${where}: ${def.seq[i][0]} missing`);
}

// Checks a parsed document (parseXml) against camt.053.001.02 as above; throws naming the
// first element or value that is not valid.
export function checkCamt053(doc) {
  assert.equal(doc.name, 'Document');
  assert.equal(doc.attrs.xmlns, NS);
  check(doc, 'Document', '');
}
