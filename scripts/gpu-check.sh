#!/usr/bin/env bash
# GPU check for an operator on a GPU host (docs/gpu.md): proves each hardware encoder with the worker's test
# encode, then encodes a short ladder (1080p, 720p, 480p from one decode) on the GPU and on the CPU and prints
# speed and SSIM side by side. The FFmpeg arguments are the ones src/media/hardware/ builds (NVDEC + scale_cuda
# + NVENC; QSV decode + scale_qsv; VAAPI decode + scale_vaapi; libx264 on the CPU).
#
#   scripts/gpu-check.sh [seconds]        FFMPEG=/path/to/ffmpeg  VAAPI_DEVICE=/dev/dri/renderD128  GPU=0
set -uo pipefail
FFMPEG="${FFMPEG:-ffmpeg}"
FFPROBE="${FFPROBE:-ffprobe}"
VAAPI_DEVICE="${VAAPI_DEVICE:-/dev/dri/renderD128}"
GPU="${GPU:-0}"
SECONDS_LONG="${1:-10}"
work="$(mktemp -d -t webencode-gpu-check-XXXXXX)"
trap 'rm -rf "$work"' EXIT

command -v "$FFMPEG" >/dev/null || { echo "FFmpeg not found at $FFMPEG (set FFMPEG)" >&2; exit 2; }
echo "== host"
"$FFMPEG" -hide_banner -version | head -n 1
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=index,name,driver_version,memory.total,encoder.stats.sessionCount --format=csv,noheader 2>/dev/null || nvidia-smi -L
else
  echo "nvidia-smi: not installed (no NVIDIA driver)"
fi
if [ -e "$VAAPI_DEVICE" ]; then
  ls -l "$VAAPI_DEVICE"
  [ -r "$VAAPI_DEVICE" ] || echo "WARNING: $VAAPI_DEVICE is not readable by $(id -un): add the user to group $(stat -c %G "$VAAPI_DEVICE")"
fi

# Per accelerator: the device options, the hardware-decode options, the scale filter and the upload (media/hardware/).
device_args() { case "$1" in nvenc) ;; qsv) echo "-init_hw_device qsv=qs -filter_hw_device qs" ;; vaapi) echo "-init_hw_device vaapi=va:$VAAPI_DEVICE -filter_hw_device va" ;; esac; }
decode_args() { case "$1" in nvenc) echo "-hwaccel cuda -hwaccel_output_format cuda -hwaccel_device $GPU" ;; qsv) echo "-init_hw_device qsv=qs -hwaccel_device qs -filter_hw_device qs -hwaccel qsv -hwaccel_output_format qsv" ;; vaapi) echo "-init_hw_device vaapi=va:$VAAPI_DEVICE -hwaccel_device va -filter_hw_device va -hwaccel vaapi -hwaccel_output_format vaapi" ;; esac; }
scale() { case "$1" in nvenc) echo "scale_cuda=$2:$3" ;; qsv) echo "scale_qsv=w=$2:h=$3" ;; vaapi) echo "scale_vaapi=w=$2:h=$3:format=nv12" ;; cpu) echo "scale=$2:$3" ;; esac; }
upload() { case "$1" in qsv) echo ",format=nv12,hwupload=extra_hw_frames=64" ;; vaapi) echo ",format=nv12,hwupload" ;; esac; }
enc_opts() {
  case "$1" in
    *_nvenc) echo "-c:v $1 -gpu $GPU -preset p4 -tune hq -rc vbr -cq 26 -b:v 0 -no-scenecut 1 -forced-idr 1" ;;
    *_qsv) echo "-c:v $1 -preset medium -global_quality 26 -forced_idr 1 -adaptive_i 0" ;;
    *_vaapi) echo "-c:v $1 -rc_mode CQP -qp 26" ;;
    libx264) echo "-c:v libx264 -preset medium -crf 26 -x264-params scenecut=0:open_gop=0 -forced-idr 1 -pix_fmt yuv420p" ;;
  esac
}
accel_of() { case "$1" in *_nvenc) echo nvenc ;; *_qsv) echo qsv ;; *_vaapi) echo vaapi ;; *) echo cpu ;; esac; }

echo
echo "== test encodes (what a worker runs before it offers an encoder)"
listed="$("$FFMPEG" -hide_banner -encoders 2>/dev/null)"
proven=()
for e in h264_nvenc hevc_nvenc h264_qsv hevc_qsv h264_vaapi hevc_vaapi; do
  grep -q " $e " <<<"$listed" || { printf '%-12s not in this FFmpeg build\n' "$e"; continue; }
  a="$(accel_of "$e")"
  # shellcheck disable=SC2046
  if out="$("$FFMPEG" -hide_banner -nostdin -loglevel error $(device_args "$a") -f lavfi -i color=c=black:s=256x256:r=25:d=0.04 -frames:v 1 -vf "scale=256:256,setsar=1$(upload "$a")" $(enc_opts "$e") -f null - 2>&1)"; then
    printf '%-12s PASS\n' "$e"; proven+=("$e")
  else
    printf '%-12s FAIL  %s\n' "$e" "$(tail -n 1 <<<"$out")"
  fi
done

echo
echo "== ladder: ${SECONDS_LONG}s 1080p source, 1080p/720p/480p from one decode"
src="$work/source.mp4"
"$FFMPEG" -hide_banner -loglevel error -f lavfi -i "testsrc2=s=1920x1080:r=30:d=$SECONDS_LONG" -c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p -g 60 "$src" || exit 1

ladder() { # encoder → prints "seconds ssim1080 ssim720 ssim480"
  local e="$1" a; a="$(accel_of "$e")"
  local pre filters
  if [ "$a" = cpu ]; then pre=""; else pre="$(decode_args "$a")"; fi
  filters="[0:v]split=3[a][b][c];[a]$(scale "$a" 1920 1080)[o0];[b]$(scale "$a" 1280 720)[o1];[c]$(scale "$a" 854 480)[o2]"
  local start end
  start=$(date +%s.%N)
  # shellcheck disable=SC2046,SC2086
  "$FFMPEG" -hide_banner -nostdin -loglevel error -y $pre -i "$src" -filter_complex "$filters" \
    -map "[o0]" $(enc_opts "$e") "$work/$e-0.mp4" -map "[o1]" $(enc_opts "$e") "$work/$e-1.mp4" -map "[o2]" $(enc_opts "$e") "$work/$e-2.mp4" 2>"$work/$e.err" || { echo "failed: $(tail -n 1 "$work/$e.err")"; return; }
  end=$(date +%s.%N)
  local s=() i w h
  for i in 0 1 2; do
    w=(1920 1280 854); h=(1080 720 480)
    s+=("$("$FFMPEG" -hide_banner -nostdin -i "$work/$e-$i.mp4" -i "$src" -lavfi "[1:v]scale=${w[$i]}:${h[$i]}[r];[0:v][r]ssim" -f null - 2>&1 | grep -o 'All:[0-9.]*' | tail -n 1 | cut -d: -f2)")
  done
  echo "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') ${s[*]}"
}

printf '%-12s %8s %8s %8s %8s %8s\n' encoder seconds speed ssim1080 ssim720 ssim480
for e in "${proven[@]}" libx264; do
  [[ "$e" == hevc_* ]] && continue # the ladder compares H.264 encoders; HEVC is proven above
  read -r t s0 s1 s2 <<<"$(ladder "$e")"
  if [ "$t" = "failed:" ]; then printf '%-12s %s\n' "$e" "$(ladder "$e")"; continue; fi
  printf '%-12s %8.2f %7.1fx %8s %8s %8s\n' "$e" "$t" "$(awk -v d="$SECONDS_LONG" -v t="$t" 'BEGIN { print d / t }')" "$s0" "$s1" "$s2"
done
