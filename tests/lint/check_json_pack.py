#!/usr/bin/env python3
"""jansson's json_pack() is variadic and unchecked by the compiler: a format
that names more values than are passed reads garbage off the stack (a
crash in `cvoip call --hold-at` came from one). Count the values each
literal format asks for against the arguments passed, in every call."""
import glob
import os
import re
import sys

os.chdir(os.environ.get("CV_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../..")))
bad = 0
for f in glob.glob('apps/**/*.c',recursive=True)+glob.glob('src/**/*.c',recursive=True):
    t=open(f).read()
    for m in re.finditer(r'json_pack(?:_ex)?\(',t):
        i=m.end();d=1;args=[];cur='';instr=False
        while d>0:
            c=t[i]
            if instr:
                cur+=c
                if c=='\\': cur+=t[i+1]; i+=1
                elif c=='"': instr=False
            elif c=='"': instr=True; cur+=c
            elif c in '([{': d+=1; cur+=c
            elif c in ')]}':
                d-=1
                if d>0: cur+=c
            elif c==',' and d==1: args.append(cur); cur=''
            else: cur+=c
            i+=1
        args.append(cur)
        fmt=''.join(re.findall(r'"((?:[^"\\]|\\.)*)"',args[0]))
        if not fmt:
            continue
        n=0
        j=0
        while j<len(fmt):
            c=fmt[j]
            if c in 'sisIbfoOn':
                if c=='n': pass
                elif c=='s' and j+1<len(fmt) and fmt[j+1]=='#': n+=2; j+=1
                elif c=='s' and j+1<len(fmt) and fmt[j+1]=='%': n+=2; j+=1
                else: n+=1
            j+=1
        if n!=len(args)-1:
            line=t[:m.start()].count('\n')+1
            print('%s:%d: format %s wants %d values, %d passed' % (f, line, fmt, n, len(args) - 1))
            bad += 1
checked = len(re.findall(r"json_pack", "".join(open(f).read() for f in glob.glob("apps/**/*.c", recursive=True) + glob.glob("src/**/*.c", recursive=True))))
print("%d json_pack calls checked, %d mismatched" % (checked, bad))
sys.exit(1 if bad or not checked else 0)
